/**
 * The follow-up check-in as FHIR: the Questionnaire the hub publishes (read-only at /fhir/Questionnaire, with the
 * other conformance resources; its texts carry Spanish and Korean translations), the QuestionnaireResponse an answer
 * is stored as, and what makes an answer worrying (care at an emergency room or in hospital, or a symptom the hub's
 * list marks alarming): such an answer also becomes an AdverseEvent draft for staff (./answer.ts).
 * R4's QuestionnaireResponse.basedOn and partOf cannot point at an Immunization, so the dose is named by the
 * extension `questionnaireresponse-immunization`.
 * @see https://hl7.org/fhir/R4/questionnaire.html
 * @see https://hl7.org/fhir/R4/questionnaireresponse.html
 */
import type { Coding, Extension, Questionnaire, QuestionnaireItem, QuestionnaireResponse, QuestionnaireResponseItem } from 'fhir/r4';
import { MAIL_LANGUAGES, type MailLanguage } from '../../notify/mail-locale.js';
import { CARE_LEVELS, type CareLevel } from '../adverse-event.js';
import { symptomByCode, SYMPTOM_SYSTEM, SYMPTOM_VALUE_SET, type Symptom } from '../symptoms.js';
import { FOLLOWUP_TEXT, type FollowupKey } from './text.js';

export const FOLLOWUP_QUESTIONNAIRE_ID = 'vaccine-followup';
export const FOLLOWUP_QUESTIONNAIRE_URL = 'https://vaxhub.org/fhir/Questionnaire/vaccine-followup';
export const FOLLOWUP_QUESTIONNAIRE_VERSION = '1';
export const FEELING_SYSTEM = 'https://vaxhub.org/fhir/CodeSystem/followup-feeling';
export const CARE_SYSTEM = 'https://vaxhub.org/fhir/CodeSystem/adverse-event-care';
/** The dose a follow-up answer is about (valueReference Immunization). */
export const EXT_QR_IMMUNIZATION = 'https://vaxhub.org/fhir/StructureDefinition/questionnaireresponse-immunization';
/** The follow-up answer an AdverseEvent draft came from (valueReference QuestionnaireResponse). */
export const EXT_AE_FOLLOWUP_ANSWER = 'https://vaxhub.org/fhir/StructureDefinition/adverse-event-followup-answer';
/** Identifies one answer per (dose, step): `<immunization id>:<step>`. */
export const FOLLOWUP_ANSWER_SYSTEM = 'https://vaxhub.org/fhir/NamingSystem/followup-answer';
/** The tag on an AdverseEvent made from a worrying answer, until staff review it. */
export const FOLLOWUP_TAG_SYSTEM = 'https://vaxhub.org/fhir/CodeSystem/followup';
export const FOLLOWUP_DRAFT_TAG: Coding = { system: FOLLOWUP_TAG_SYSTEM, code: 'draft', display: 'Drafted from a follow-up answer: staff review it' };
const TRANSLATION = 'http://hl7.org/fhir/StructureDefinition/translation';

export const FEELINGS = ['well', 'mild', 'unwell', 'very-unwell'] as const;
export type Feeling = (typeof FEELINGS)[number];

/** The text in English, with the other languages as R4 translation extensions on `_text`. */
function translated(key: FollowupKey): { text: string; _text: { extension: Extension[] } } {
  const e = FOLLOWUP_TEXT[key] as Record<MailLanguage, string>;
  return {
    text: e.en,
    _text: { extension: MAIL_LANGUAGES.filter((l) => l !== 'en').map((l) => ({ url: TRANSLATION, extension: [{ url: 'lang', valueCode: l }, { url: 'content', valueString: e[l] }] })) },
  };
}

function choice(linkId: string, key: FollowupKey, system: string, codes: readonly string[], required: boolean): QuestionnaireItem {
  return {
    linkId, ...translated(key), type: 'choice', required,
    answerOption: codes.map((c) => ({ valueCoding: { system, code: c, display: (FOLLOWUP_TEXT[`${key}.${c}` as FollowupKey] as Record<MailLanguage, string>).en } })),
  } as QuestionnaireItem;
}

/** The published Questionnaire (a conformance resource: it changes with the hub's release). */
export function followupQuestionnaire(): Questionnaire {
  return {
    resourceType: 'Questionnaire',
    id: FOLLOWUP_QUESTIONNAIRE_ID,
    url: FOLLOWUP_QUESTIONNAIRE_URL,
    version: FOLLOWUP_QUESTIONNAIRE_VERSION,
    name: 'VaccineFollowUp',
    title: 'How are you after your vaccination?',
    status: 'active',
    subjectType: ['Patient'],
    publisher: 'vaxhub',
    description: 'The follow-up check-in sent after a dose (by default the day after, a week after and six weeks after), to people who chose to receive it. An answer naming emergency or hospital care, or a symptom the hub lists as alarming, becomes an AdverseEvent draft for staff to review.',
    item: [
      choice('feeling', 'feeling', FEELING_SYSTEM, FEELINGS, true),
      { linkId: 'symptoms', ...translated('symptoms'), type: 'choice', repeats: true, required: false, answerValueSet: SYMPTOM_VALUE_SET } as QuestionnaireItem,
      { linkId: 'words', ...translated('words'), type: 'text', required: false, maxLength: 2000 } as QuestionnaireItem,
      choice('care', 'care', CARE_SYSTEM, CARE_LEVELS, true),
    ],
  };
}

/** A check-in answer as the form gives it, checked (./answer.ts). */
export interface FollowupAnswer {
  feeling: Feeling;
  symptoms: Symptom[];
  words?: string;
  care: CareLevel;
}

/** Which questions are missing or wrong, by linkId (each with the text key the page shows). */
export function checkAnswer(raw: { feeling?: unknown; symptoms?: unknown; words?: unknown; care?: unknown }): { answer?: FollowupAnswer; errors: Partial<Record<'feeling' | 'symptoms' | 'words' | 'care', FollowupKey>> } {
  const errors: Partial<Record<'feeling' | 'symptoms' | 'words' | 'care', FollowupKey>> = {};
  const feeling = typeof raw.feeling === 'string' && (FEELINGS as readonly string[]).includes(raw.feeling) ? (raw.feeling as Feeling) : undefined;
  if (!feeling) errors.feeling = 'required';
  const care = typeof raw.care === 'string' && (CARE_LEVELS as readonly string[]).includes(raw.care) ? (raw.care as CareLevel) : undefined;
  if (!care) errors.care = 'required';
  const codes = (Array.isArray(raw.symptoms) ? raw.symptoms : raw.symptoms === undefined ? [] : [raw.symptoms]).filter((x): x is string => typeof x === 'string');
  const symptoms = [...new Set(codes)].map((c) => symptomByCode(c)).filter((s): s is Symptom => s !== undefined);
  const words = typeof raw.words === 'string' ? raw.words.trim() : '';
  if (words.length > 2000) errors.words = 'tooLong';
  else if (symptoms.some((s) => s.code === 'other') && !words) errors.words = 'needOther';
  if (Object.keys(errors).length || !feeling || !care) return { errors };
  return { answer: { feeling, symptoms, ...(words ? { words } : {}), care }, errors };
}

/** Emergency or hospital care, or an alarming symptom: staff must look at it. */
export function isWorrying(a: FollowupAnswer): boolean {
  return a.care === 'emergency' || a.care === 'hospital' || a.symptoms.some((s) => s.alarming === true);
}

export function buildQuestionnaireResponse(o: { id?: string; patientId: string; immunizationId: string; step: number; answer: FollowupAnswer; authored: Date; language: MailLanguage }): QuestionnaireResponse {
  const a = o.answer;
  const en = (key: FollowupKey): string => (FOLLOWUP_TEXT[key] as Record<MailLanguage, string>).en;
  const item: QuestionnaireResponseItem[] = [
    { linkId: 'feeling', text: en('feeling'), answer: [{ valueCoding: { system: FEELING_SYSTEM, code: a.feeling, display: en(`feeling.${a.feeling}` as FollowupKey) } }] },
    ...(a.symptoms.length ? [{ linkId: 'symptoms', text: en('symptoms'), answer: a.symptoms.map((s) => ({ valueCoding: { system: SYMPTOM_SYSTEM, code: s.code, display: s.display.en } })) }] : []),
    ...(a.words ? [{ linkId: 'words', text: en('words'), answer: [{ valueString: a.words }] }] : []),
    { linkId: 'care', text: en('care'), answer: [{ valueCoding: { system: CARE_SYSTEM, code: a.care, display: en(`care.${a.care}` as FollowupKey) } }] },
  ];
  return {
    resourceType: 'QuestionnaireResponse',
    ...(o.id ? { id: o.id } : {}),
    language: o.language,
    extension: [{ url: EXT_QR_IMMUNIZATION, valueReference: { reference: `Immunization/${o.immunizationId}` } }],
    identifier: { system: FOLLOWUP_ANSWER_SYSTEM, value: `${o.immunizationId}:${o.step}` },
    questionnaire: `${FOLLOWUP_QUESTIONNAIRE_URL}|${FOLLOWUP_QUESTIONNAIRE_VERSION}`,
    status: 'completed',
    subject: { reference: `Patient/${o.patientId}` },
    authored: o.authored.toISOString(),
    author: { reference: `Patient/${o.patientId}` },
    source: { reference: `Patient/${o.patientId}` },
    item,
  };
}
