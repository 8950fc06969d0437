/**
 * The person's vaccination history (product, date, lot, site, who gave it) and upcoming appointments, read
 * from the FHIR API with the session's patient-context token.
 */
import type { SmartClient as Client } from './session.js';
import type { AdverseEvent, Appointment, Immunization, Patient } from 'fhir/r4';
import { h } from '../shared/dom.js';
import { conceptText } from '../shared/fhir-text.js';
import { formatDate, t } from '../shared/i18n.js';
import { symptomText } from '../shared/symptoms.js';
import { symptomsOf, suspectImmunizationIds } from '../../src/safety/adverse-event.js';

function fact(term: string, value: string | undefined): HTMLElement[] {
  return [h('dt', {}, term), h('dd', {}, value || t('history.unknown'))];
}

/** The hub's tags for who stands behind a dose (src/records/dose-trust.ts). */
const DOSE_TRUST_SYSTEM = 'https://vaxhub.org/fhir/CodeSystem/dose-trust';

/** Says so when the person reported the dose themselves: such a dose is on their card only once a clinic verified it. */
function selfReported(imm: Immunization): string | undefined {
  const codes = (imm.meta?.tag ?? []).filter((c) => c.system === DOSE_TRUST_SYSTEM).map((c) => c.code);
  if (codes.includes('patient-reported')) return t('history.selfReported');
  if (codes.includes('staff-verified')) return t('history.selfReportedVerified');
  return undefined;
}

/** The person's own reports about this dose, with whether the clinic has looked at them. */
function reactionsOf(imm: Immunization, events: AdverseEvent[]): HTMLElement | null {
  const mine = events.filter((e) => imm.id !== undefined && suspectImmunizationIds(e).includes(imm.id));
  if (!mine.length) return null;
  return h('div', { class: 'reactions' }, ...mine.map((e) => {
    const pending = (e.meta?.tag ?? []).some((c) => c.system === DOSE_TRUST_SYSTEM && c.code === 'patient-reported');
    const words = symptomsOf(e).map((s) => symptomText(s)).join(', ') || e.event?.text || '';
    return h('p', { class: 'reaction' }, t('reaction.reported', { symptoms: words }), ` (${formatDate(e.date, true)}; ${pending ? t('reaction.pending') : t('reaction.reviewed')})`);
  }));
}

function immunizationItem(imm: Immunization, events: AdverseEvent[]): HTMLElement {
  const source = selfReported(imm);
  const performer = imm.performer?.map((p) => p.actor.display).filter(Boolean).join(', ');
  return h(
    'li',
    {},
    h('h3', {}, conceptText(imm.vaccineCode) || t('history.unknown')),
    h(
      'dl',
      { class: 'facts' },
      ...fact(t('history.date'), formatDate(imm.occurrenceDateTime ?? imm.occurrenceString)),
      ...fact(t('history.lot'), imm.lotNumber),
      ...fact(t('history.site'), conceptText(imm.site)),
      ...fact(t('history.performer'), performer),
      ...(imm.status !== 'completed' ? fact(t('history.status'), imm.status) : []),
      ...(source ? fact(t('history.source'), source) : []),
    ),
    reactionsOf(imm, events),
    imm.id && imm.status === 'completed' ? h('a', { class: 'button secondary', href: `#reaction/${encodeURIComponent(imm.id)}`, 'data-reaction': imm.id }, t('reaction.button')) : null,
  );
}

function appointmentItem(a: Appointment): HTMLElement {
  const where = a.participant
    .map((p) => p.actor)
    .filter((r) => r?.reference?.startsWith('Location/') || r?.display)
    .filter((r) => !r?.reference?.startsWith('Patient/'))
    .map((r) => r?.display ?? r?.reference)
    .join(', ');
  return h(
    'li',
    {},
    h('h3', {}, a.description ?? (a.serviceType?.map(conceptText).join(', ') || t('appointments.title'))),
    h(
      'dl',
      { class: 'facts' },
      ...fact(t('appointments.when'), formatDate(a.start, true)),
      ...fact(t('appointments.where'), where),
      ...fact(t('appointments.status'), a.status),
    ),
  );
}

export interface PatientRecord {
  patient: Patient;
  immunizations: Immunization[];
  appointments: Appointment[];
  /** Reactions the person reported (and those staff recorded about them). */
  adverseEvents: AdverseEvent[];
}

export async function loadRecord(client: Client): Promise<PatientRecord> {
  const id = client.patient.id;
  if (!id) throw new Error('the token carries no patient');
  const today = new Date().toISOString().slice(0, 10);
  const [patient, immunizations, appointments, adverseEvents] = await Promise.all([
    client.patient.read() as Promise<Patient>,
    client.request<Immunization[]>(`Immunization?patient=${encodeURIComponent(id)}&_count=100`, { flat: true, pageLimit: 0 }),
    client.request<Appointment[]>(`Appointment?patient=${encodeURIComponent(id)}&date=ge${today}&_count=50`, { flat: true, pageLimit: 0 }),
    client.request<AdverseEvent[]>(`AdverseEvent?subject=${encodeURIComponent(`Patient/${id}`)}&_count=100`, { flat: true, pageLimit: 0 }),
  ]);
  const date = (i: Immunization) => i.occurrenceDateTime ?? '';
  const now = Date.now();
  return {
    patient,
    adverseEvents,
    // Newest dose first; entered-in-error records are not part of the person's history.
    immunizations: immunizations.filter((i) => i.status !== 'entered-in-error').sort((a, b) => date(b).localeCompare(date(a))),
    appointments: appointments
      .filter((a) => a.start && Date.parse(a.start) >= now && !['cancelled', 'noshow', 'entered-in-error', 'fulfilled'].includes(a.status))
      .sort((a, b) => (a.start ?? '').localeCompare(b.start ?? '')),
  };
}

export function historyView(record: PatientRecord): HTMLElement[] {
  return [
    h('h2', { id: 'history-title' }, t('history.title')),
    record.immunizations.length
      ? h('ul', { class: 'records', 'aria-labelledby': 'history-title', id: 'immunizations' }, ...record.immunizations.map((i) => immunizationItem(i, record.adverseEvents)))
      : h('p', {}, t('history.empty')),
    h('h2', { id: 'appointments-title' }, t('appointments.title')),
    record.appointments.length
      ? h('ul', { class: 'records', 'aria-labelledby': 'appointments-title', id: 'appointments' }, ...record.appointments.map(appointmentItem))
      : h('p', {}, t('appointments.empty')),
  ];
}
