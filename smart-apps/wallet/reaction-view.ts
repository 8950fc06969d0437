/**
 * "I had a reaction" (issue 24): a short form about one dose, in the person's language: what they noticed (the hub's
 * symptom list, ./shared/symptoms.ts), when it started, their own words, whether they needed care and how they are
 * now. It is saved as an AdverseEvent about them, suspecting that dose (the hub keeps it as their own report until
 * staff review it). An emergency notice comes first: this form reaches nobody at once. Errors are said by the field
 * they concern, and focus moves to the first.
 */
import type { AdverseEvent, Immunization } from 'fhir/r4';
import type { SmartClient as Client } from './session.js';
import { announce, h } from '../shared/dom.js';
import { conceptText } from '../shared/fhir-text.js';
import { formatDate, t, type MessageKey } from '../shared/i18n.js';
import { SYMPTOMS, symptomText } from '../shared/symptoms.js';
import { buildAdverseEvent, CARE_LEVELS, type CareLevel } from '../../src/safety/adverse-event.js';

const OUTCOMES = ['resolved', 'recovering', 'ongoing'] as const;

/** The local date-time now, as a datetime-local value. */
function localNow(): string {
  const d = new Date();
  d.setSeconds(0, 0);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

function radios(name: string, legend: string, values: readonly string[], key: (v: string) => MessageKey, checked: string): HTMLElement {
  return h('fieldset', { class: 'checks', id: `reaction-${name}` }, h('legend', {}, legend),
    ...values.map((v) => h('div', { class: 'check' },
      h('input', { type: 'radio', name, id: `${name}-${v}`, value: v, checked: v === checked }),
      h('label', { for: `${name}-${v}` }, t(key(v))))));
}

export function reactionView(client: Client, imm: Immunization, done: (saved: AdverseEvent) => void, back: () => void): HTMLElement[] {
  const problems = h('div', { id: 'reaction-problems' });
  const symptoms = h('fieldset', { class: 'checks', id: 'reaction-symptoms', 'aria-describedby': 'reaction-problems' }, h('legend', {}, t('reaction.symptoms')),
    ...SYMPTOMS.map((s) => h('div', { class: 'check' },
      h('input', { type: 'checkbox', name: 'symptom', id: `symptom-${s.code}`, value: s.code }),
      h('label', { for: `symptom-${s.code}` }, symptomText(s)))));
  const doseDay = imm.occurrenceDateTime?.slice(0, 10);
  const onset = h('input', { type: 'datetime-local', id: 'reaction-onset', name: 'onset', required: true, value: localNow(), max: localNow(), ...(doseDay ? { min: `${doseDay}T00:00` } : {}) });
  const words = h('textarea', { id: 'reaction-words', name: 'words', rows: '3', maxlength: '2000', 'aria-describedby': 'reaction-words-hint' });
  const submit = h('button', { type: 'submit', id: 'reaction-send' }, t('reaction.send'));
  const form = h('form', { id: 'reaction-form', novalidate: true },
    symptoms,
    h('div', { class: 'field' }, h('label', { for: 'reaction-onset' }, t('reaction.onset')), onset),
    h('div', { class: 'field' }, h('label', { for: 'reaction-words' }, t('reaction.words')), h('p', { class: 'hint', id: 'reaction-words-hint' }, t('reaction.wordsHint')), words),
    radios('care', t('reaction.care'), CARE_LEVELS, (v) => `reaction.care.${v}` as MessageKey, 'none'),
    radios('now', t('reaction.now'), OUTCOMES, (v) => `reaction.now.${v}` as MessageKey, 'recovering'),
    problems,
    h('p', {}, submit, ' ', h('button', { type: 'button', class: 'secondary', onclick: back }, t('reaction.cancel'))));

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const chosen = Array.from(form.querySelectorAll<HTMLInputElement>('input[name=symptom]:checked'), (i) => i.value);
    const text = words.value.trim();
    const errors: Array<{ message: string; focus: HTMLElement }> = [];
    if (chosen.length === 0 && !text) errors.push({ message: t('reaction.needSymptom'), focus: symptoms.querySelector('input')! });
    if (chosen.includes('other') && !text) errors.push({ message: t('reaction.needOther'), focus: words });
    const when = onset.value ? new Date(onset.value) : undefined;
    if (!when || Number.isNaN(when.getTime()) || when.getTime() > Date.now() + 60_000) errors.push({ message: t('reaction.needOnset'), focus: onset });
    else if (doseDay && onset.value.slice(0, 10) < doseDay) errors.push({ message: t('reaction.beforeDose', { date: formatDate(doseDay) }), focus: onset });
    if (errors.length) {
      problems.replaceChildren(...errors.map((e) => announce(e.message, 'alert')));
      errors[0]!.focus.focus();
      return;
    }
    const care = (form.querySelector<HTMLInputElement>('input[name=care]:checked')?.value ?? 'none') as CareLevel;
    const outcome = form.querySelector<HTMLInputElement>('input[name=now]:checked')?.value ?? 'recovering';
    const ae = buildAdverseEvent({
      patientId: client.patient.id!,
      immunizationId: imm.id,
      symptoms: chosen,
      text,
      // A stay in hospital is serious by definition; anything else staff judge when they review the report.
      ...(care === 'hospital' ? { seriousness: 'SeriousResultsInHospitalization' } : {}),
      outcome,
      care,
      onset: when!.toISOString(),
      recordedAt: new Date().toISOString(),
    });
    submit.setAttribute('disabled', '');
    client.create(ae as never).then((saved) => done(saved as AdverseEvent), (e: unknown) => {
      submit.removeAttribute('disabled');
      problems.replaceChildren(announce(t('app.error', { message: e instanceof Error ? e.message : String(e) }), 'alert'));
    });
  });

  return [
    h('h2', { id: 'reaction-title', tabindex: '-1' }, t('reaction.title')),
    h('p', {}, t('reaction.after', { vaccine: conceptText(imm.vaccineCode) || '', date: formatDate(imm.occurrenceDateTime ?? imm.occurrenceString) })),
    h('p', { class: 'notice', role: 'note' }, h('strong', {}, t('reaction.emergency'))),
    form,
  ];
}
