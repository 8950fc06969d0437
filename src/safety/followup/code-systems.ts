/** The code systems the follow-up Questionnaire's answers use, served with the hub's terminology (/fhir/CodeSystem). */
import type { CodeSystem } from 'fhir/r4';
import { CARE_LEVELS } from '../adverse-event.js';
import { CARE_SYSTEM, FEELING_SYSTEM, FEELINGS, FOLLOWUP_TAG_SYSTEM } from './questionnaire.js';
import { FOLLOWUP_TEXT, type FollowupKey } from './text.js';

const concept = (key: FollowupKey) => {
  const e = FOLLOWUP_TEXT[key] as { en: string; es: string; ko: string };
  return { display: e.en, designation: [{ language: 'es', value: e.es }, { language: 'ko', value: e.ko }] };
};

export function followupCodeSystems(): CodeSystem[] {
  return [
    {
      resourceType: 'CodeSystem', id: 'followup-feeling', url: FEELING_SYSTEM, name: 'VaxhubFollowupFeeling', title: 'How a person feels at a follow-up check-in',
      status: 'active', publisher: 'vaxhub', description: 'Answers to "How are you feeling?" in the follow-up check-in (Questionnaire vaccine-followup).',
      caseSensitive: true, content: 'complete', concept: FEELINGS.map((c) => ({ code: c, ...concept(`feeling.${c}` as FollowupKey) })),
    },
    {
      resourceType: 'CodeSystem', id: 'adverse-event-care', url: CARE_SYSTEM, name: 'VaxhubAdverseEventCare', title: 'Medical care needed after a vaccination',
      status: 'active', publisher: 'vaxhub', description: 'The care an event needed, as VAERS 2.0 item 21 asks it (extension adverse-event-care, and the follow-up check-in).',
      caseSensitive: true, content: 'complete', concept: CARE_LEVELS.map((c) => ({ code: c, ...concept(`care.${c}` as FollowupKey) })),
    },
    {
      resourceType: 'CodeSystem', id: 'followup', url: FOLLOWUP_TAG_SYSTEM, name: 'VaxhubFollowup', title: 'Follow-up check-in tags',
      status: 'active', publisher: 'vaxhub', description: 'meta.tag of an AdverseEvent drafted from a worrying follow-up answer, until staff review it.',
      caseSensitive: true, content: 'complete', concept: [{ code: 'draft', display: 'Drafted from a follow-up answer: staff review it' }],
    },
  ];
}
