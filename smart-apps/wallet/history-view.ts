/**
 * The person's vaccination history (product, date, lot, site, who gave it) and upcoming appointments, read
 * from the FHIR API with the session's patient-context token.
 */
import type { SmartClient as Client } from './session.js';
import type { Appointment, Immunization, Patient } from 'fhir/r4';
import { h } from '../shared/dom.js';
import { conceptText } from '../shared/fhir-text.js';
import { formatDate, t } from '../shared/i18n.js';

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

function immunizationItem(imm: Immunization): HTMLElement {
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
}

export async function loadRecord(client: Client): Promise<PatientRecord> {
  const id = client.patient.id;
  if (!id) throw new Error('the token carries no patient');
  const today = new Date().toISOString().slice(0, 10);
  const [patient, immunizations, appointments] = await Promise.all([
    client.patient.read() as Promise<Patient>,
    client.request<Immunization[]>(`Immunization?patient=${encodeURIComponent(id)}&_count=100`, { flat: true, pageLimit: 0 }),
    client.request<Appointment[]>(`Appointment?patient=${encodeURIComponent(id)}&date=ge${today}&_count=50`, { flat: true, pageLimit: 0 }),
  ]);
  const date = (i: Immunization) => i.occurrenceDateTime ?? '';
  const now = Date.now();
  return {
    patient,
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
      ? h('ul', { class: 'records', 'aria-labelledby': 'history-title', id: 'immunizations' }, ...record.immunizations.map(immunizationItem))
      : h('p', {}, t('history.empty')),
    h('h2', { id: 'appointments-title' }, t('appointments.title')),
    record.appointments.length
      ? h('ul', { class: 'records', 'aria-labelledby': 'appointments-title', id: 'appointments' }, ...record.appointments.map(appointmentItem))
      : h('p', {}, t('appointments.empty')),
  ];
}
