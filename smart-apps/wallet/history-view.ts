/**
 * The person's vaccination history (product, date, lot, site, who gave it) and upcoming appointments, read
 * from the FHIR API with the session's patient-context token.
 */
import type { SmartClient as Client } from './session.js';
import type { AdverseEvent, Appointment, Immunization, Location, Patient } from 'fhir/r4';
import { h } from '../shared/dom.js';
import { conceptText, vaccineName } from '../shared/fhir-text.js';
import { formatDate, t, tOr } from '../shared/i18n.js';
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

const EXT_PRODUCT = 'http://fhir-registry.smarthealthit.org/StructureDefinition/vaccine-product';
const EXT_TIMEZONE = 'http://hl7.org/fhir/StructureDefinition/timezone';

/**
 * An upcoming appointment in the person's words: the vaccine by its catalogue name, the time on the clinic's clock,
 * the clinic's name and address (never a bare 'Location/…' reference), the status in the page's language (the raw
 * FHIR code 'booked' showed on a Spanish page).
 */
function appointmentItem(a: Appointment, clinics: Map<string, Location>, hubTimeZone?: string): HTMLElement {
  const product = a.extension?.find((e) => e.url === EXT_PRODUCT)?.valueCoding;
  const actors = a.participant.map((p) => p.actor).filter((r) => r && !r.reference?.startsWith('Patient/'));
  const clinic = actors.map((r) => (r?.reference ? clinics.get(r.reference) : undefined)).find((l) => l);
  const where = actors
    .map((r) => {
      const l = r?.reference ? clinics.get(r.reference) : undefined;
      return l ? [l.name, addressOf(l)].filter(Boolean).join(', ') : r?.display;
    })
    .filter(Boolean)
    .join(', ');
  const zone = clinic?.extension?.find((e) => e.url === EXT_TIMEZONE)?.valueCode ?? hubTimeZone;
  return h(
    'li',
    {},
    h('h3', {}, (product?.code && vaccineName(product.code)) || a.description || t('appointments.vaccination')),
    h(
      'dl',
      { class: 'facts' },
      ...fact(t('appointments.when'), formatDate(a.start, true, zone)),
      ...fact(t('appointments.where'), where),
      ...fact(t('appointments.status'), tOr(`apptStatus.${a.status}`, a.status)),
    ),
  );
}

function addressOf(l: Location): string {
  const ad = l.address;
  return ad ? [...(ad.line ?? []), ad.city, [ad.state, ad.postalCode].filter(Boolean).join(' ')].filter(Boolean).join(', ') : '';
}

export interface PatientRecord {
  patient: Patient;
  immunizations: Immunization[];
  appointments: Appointment[];
  /** The clinics of the appointments, by reference ('Location/…'). */
  clinics: Map<string, Location>;
  /** Reactions the person reported (and those staff recorded about them). */
  adverseEvents: AdverseEvent[];
}

export async function loadRecord(client: Client): Promise<PatientRecord> {
  const id = client.patient.id;
  if (!id) throw new Error('the token carries no patient');
  const today = new Date().toISOString().slice(0, 10);
  const [patient, immunizations, appointmentsAndClinics, adverseEvents] = await Promise.all([
    client.patient.read() as Promise<Patient>,
    client.request<Immunization[]>(`Immunization?patient=${encodeURIComponent(id)}&_count=100`, { flat: true, pageLimit: 0 }),
    client.request<Array<Appointment | Location>>(`Appointment?patient=${encodeURIComponent(id)}&date=ge${today}&_include=Appointment:location&_count=50`, { flat: true, pageLimit: 0 }),
    client.request<AdverseEvent[]>(`AdverseEvent?subject=${encodeURIComponent(`Patient/${id}`)}&_count=100`, { flat: true, pageLimit: 0 }),
  ]);
  const appointments = appointmentsAndClinics.filter((r): r is Appointment => r.resourceType === 'Appointment');
  const clinics = new Map(appointmentsAndClinics.filter((r): r is Location => r.resourceType === 'Location').map((l) => [`Location/${l.id}`, l]));
  const date = (i: Immunization) => i.occurrenceDateTime ?? '';
  const now = Date.now();
  return {
    patient,
    adverseEvents,
    clinics,
    // Newest dose first; entered-in-error records are not part of the person's history.
    immunizations: immunizations.filter((i) => i.status !== 'entered-in-error').sort((a, b) => date(b).localeCompare(date(a))),
    appointments: appointments
      .filter((a) => a.start && Date.parse(a.start) >= now && !['cancelled', 'noshow', 'entered-in-error', 'fulfilled'].includes(a.status))
      .sort((a, b) => (a.start ?? '').localeCompare(b.start ?? '')),
  };
}

export function historyView(record: PatientRecord, hubTimeZone?: string): HTMLElement[] {
  return [
    h('h2', { id: 'history-title' }, t('history.title')),
    record.immunizations.length
      ? h('ul', { class: 'records', 'aria-labelledby': 'history-title', id: 'immunizations' }, ...record.immunizations.map((i) => immunizationItem(i, record.adverseEvents)))
      : h('p', {}, t('history.empty')),
    h('h2', { id: 'appointments-title' }, t('appointments.title')),
    record.appointments.length
      ? h('ul', { class: 'records', 'aria-labelledby': 'appointments-title', id: 'appointments' }, ...record.appointments.map((a) => appointmentItem(a, record.clinics, hubTimeZone)))
      : h('p', {}, t('appointments.empty')),
  ];
}
