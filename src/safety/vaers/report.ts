/**
 * A VAERS-ready report of one adverse event: the items of FORM FDA VAERS 2.0, filled from the hub's records (the
 * person, the dose and every dose given that day, the clinic, earlier doses and reactions, allergies, the event), so
 * staff review it rather than type it. Items 2, 3, 4, 5, 6, 17, 18 and 21 are the form's ESSENTIAL ones: `missing`
 * names those the records cannot fill, and the report is not submitted while any is missing.
 * @see https://vaers.hhs.gov/esubhelp.html
 */
import type { AdverseEvent, Address, AllergyIntolerance, CodeableConcept, ContactPoint, Immunization, Location, Patient, Practitioner } from 'fhir/r4';
import { careOf, isSerious, OUTCOMES, seriousnessCode, SERIOUSNESS, suspectImmunizationIds, symptomsOf } from '../adverse-event.js';

export interface VaersVaccine {
  vaccine: string;
  cvx: string | null;
  manufacturer: string | null;
  lotNumber: string | null;
  route: string | null;
  bodySite: string | null;
  doseNumber: string | null;
}

export interface VaersAddress { street: string; city: string; state: string; county: string; zip: string }

export interface VaersReport {
  adverseEventId: string;
  item1_patient: { firstName: string; lastName: string; address: VaersAddress; phone: string; email: string };
  item2_dateOfBirth: string;
  item3_sex: 'Male' | 'Female' | 'Unknown';
  item4_vaccinationDateTime: string;
  item5_adverseEventStart: string;
  item6_ageAtVaccination: { years: number; months: number } | null;
  item7_todaysDate: string;
  item8_pregnant: 'Yes' | 'No' | 'Unknown';
  item9_medications: string;
  item10_allergies: string;
  item11_otherIllnesses: string;
  item12_chronicConditions: string;
  item13_completedBy: { name: string; relation: 'Healthcare professional/staff' | 'Patient (yourself)'; address: VaersAddress; phone: string; email: string };
  item14_bestContact: { name: string; phone: string };
  item15_facility: { name: string; address: VaersAddress; phone: string; fax: string };
  item16_facilityType: string;
  item17_vaccines: VaersVaccine[];
  item18_description: string;
  item19_testsAndResults: string;
  item20_recovered: 'Yes' | 'No' | 'Unknown';
  item21_outcomes: string[];
  item22_otherVaccinesPriorMonth: Array<VaersVaccine & { date: string }>;
  item23_previousAdverseEvents: string;
  item24_race: string;
  item25_ethnicity: string;
  serious: boolean;
  /** Essential items (2, 3, 4, 5, 6, 17, 18, 21) the records leave empty. */
  missing: string[];
}

export interface VaersSources {
  event: AdverseEvent & { id: string };
  patient: Patient;
  /** Every dose of the person (the suspected one among them). */
  doses: Immunization[];
  location?: Location;
  allergies: AllergyIntolerance[];
  /** The person's other adverse events. */
  otherEvents: AdverseEvent[];
  /** Who prepares the report (the operator), and who recorded the event. */
  preparedBy?: Practitioner;
  recordedBy?: Practitioner;
  /** Extra words staff add in review (tests, treatment), kept with the report. */
  review?: { testsAndResults?: string; treatment?: string; pregnant?: 'Yes' | 'No' | 'Unknown'; hospitalDays?: number; hospitalName?: string };
  now: Date;
}

const text = (c: CodeableConcept | undefined): string => c?.text ?? c?.coding?.find((x) => x.display)?.display ?? c?.coding?.[0]?.code ?? '';
const phone = (t: ContactPoint[] | undefined, system: 'phone' | 'email' | 'fax'): string => t?.find((x) => x.system === system || (system === 'phone' && x.system === 'sms'))?.value ?? '';
function address(a: Address | undefined): VaersAddress {
  return { street: (a?.line ?? []).join(', '), city: a?.city ?? '', state: a?.state ?? '', county: a?.district ?? '', zip: a?.postalCode ?? '' };
}
const nameOf = (n: Practitioner['name']): string => {
  const x = n?.[0];
  return x ? x.text ?? [...(x.given ?? []), x.family].filter(Boolean).join(' ') : '';
};

/** Years and whole months between a birth date and a day (VAERS item 6). */
export function ageAt(birthDate: string, at: string): { years: number; months: number } | null {
  const b = /^(\d{4})-(\d{2})-(\d{2})$/.exec(birthDate);
  const d = /^(\d{4})-(\d{2})-(\d{2})/.exec(at);
  if (!b || !d) return null;
  let months = (Number(d[1]) - Number(b[1])) * 12 + (Number(d[2]) - Number(b[2]));
  if (Number(d[3]) < Number(b[3])) months -= 1;
  if (months < 0) return null;
  return { years: Math.floor(months / 12), months: months % 12 };
}

function vaccineOf(i: Immunization): VaersVaccine {
  const cvx = i.vaccineCode.coding?.find((c) => c.system === 'http://hl7.org/fhir/sid/cvx');
  const dose = i.protocolApplied?.[0];
  return {
    vaccine: text(i.vaccineCode) || (cvx?.code ? `CVX ${cvx.code}` : ''),
    cvx: cvx?.code ?? null,
    manufacturer: i.manufacturer?.display ?? i.manufacturer?.identifier?.value ?? null,
    lotNumber: i.lotNumber ?? null,
    route: text(i.route) || null,
    bodySite: text(i.site) || null,
    doseNumber: dose?.doseNumberPositiveInt !== undefined ? String(dose.doseNumberPositiveInt) : dose?.doseNumberString ?? null,
  };
}

const extValue = (p: Patient, url: string): string =>
  (p.extension ?? []).find((e) => e.url === url)?.extension?.filter((x) => x.url === 'text' || x.url === 'ombCategory').map((x) => x.valueString ?? x.valueCoding?.display ?? x.valueCoding?.code).filter(Boolean).join(', ') ?? '';

export function buildVaersReport(s: VaersSources): VaersReport {
  const ae = s.event;
  const p = s.patient;
  const suspected = suspectImmunizationIds(ae);
  const dose = s.doses.find((d) => d.id !== undefined && suspected.includes(d.id));
  const doseAt = dose?.occurrenceDateTime ?? '';
  const doseDay = doseAt.slice(0, 10);
  const sameDay = s.doses.filter((d) => d.status === 'completed' && (d.occurrenceDateTime ?? '').slice(0, 10) === doseDay && doseDay !== '');
  const monthBefore = doseDay ? new Date(Date.parse(`${doseDay}T00:00:00Z`) - 31 * 86_400_000).toISOString().slice(0, 10) : '';
  const prior = s.doses.filter((d) => d.status === 'completed' && (d.occurrenceDateTime ?? '') < doseDay && (d.occurrenceDateTime ?? '').slice(0, 10) >= monthBefore);
  const care = careOf(ae);
  const code = seriousnessCode(ae);
  const outcomes: string[] = [];
  if (care === 'doctor') outcomes.push('Doctor or other healthcare professional office/clinic visit');
  if (care === 'emergency') outcomes.push('Emergency room/department or urgent care');
  if (care === 'hospital' || code === 'SeriousResultsInHospitalization') {
    const days = s.review?.hospitalDays !== undefined ? `, ${s.review.hospitalDays} days` : '';
    outcomes.push(`Hospitalized${days}${s.review?.hospitalName ? `, ${s.review.hospitalName}` : ''}`);
  }
  if (code === 'SeriousIsLifeThreatening') outcomes.push('Life threatening illness (immediate risk of death from the event)');
  if (code === 'SeriousResultsInPersistentDisability') outcomes.push('Disability or permanent damage');
  if (code === 'SeriousResultsInDeath' || ae.outcome?.coding?.some((c) => c.code === 'fatal')) outcomes.push('Patient died');
  if (code === 'SeriousIsBirthDefect') outcomes.push('Congenital anomaly or birth defect');
  if (outcomes.length === 0) outcomes.push('None of the above');
  const outcomeCode = ae.outcome?.coding?.[0]?.code;
  const symptoms = symptomsOf(ae).map((x) => x.display.en);
  const description = [
    symptoms.length ? `Symptoms: ${symptoms.join(', ')}.` : '',
    ae.event?.text && ae.event.text !== symptoms.join('; ') ? `Description: ${ae.event.text}` : '',
    s.review?.treatment ? `Treatment: ${s.review.treatment}` : '',
    code ? `Seriousness: ${SERIOUSNESS[code] ?? code}.` : '',
    outcomeCode ? `Outcome: ${OUTCOMES[outcomeCode] ?? outcomeCode}.` : '',
  ].filter(Boolean).join(' ');
  const recorder = s.preparedBy ?? s.recordedBy;
  const byPerson = /^Patient\//.test(ae.recorder?.reference ?? '') && !s.preparedBy;
  const name = p.name?.[0];
  const report: VaersReport = {
    adverseEventId: ae.id,
    item1_patient: { firstName: (name?.given ?? []).join(' '), lastName: name?.family ?? '', address: address(p.address?.[0]), phone: phone(p.telecom, 'phone'), email: phone(p.telecom, 'email') },
    item2_dateOfBirth: p.birthDate ?? '',
    item3_sex: p.gender === 'male' ? 'Male' : p.gender === 'female' ? 'Female' : 'Unknown',
    item4_vaccinationDateTime: doseAt,
    item5_adverseEventStart: ae.date ?? '',
    item6_ageAtVaccination: p.birthDate && doseDay ? ageAt(p.birthDate, doseDay) : null,
    item7_todaysDate: s.now.toISOString().slice(0, 10),
    item8_pregnant: s.review?.pregnant ?? 'Unknown',
    item9_medications: '',
    item10_allergies: s.allergies.map((a) => text(a.code)).filter(Boolean).join('; '),
    item11_otherIllnesses: '',
    item12_chronicConditions: '',
    item13_completedBy: {
      name: byPerson ? [...(name?.given ?? []), name?.family].filter(Boolean).join(' ') : nameOf(recorder?.name),
      relation: byPerson ? 'Patient (yourself)' : 'Healthcare professional/staff',
      address: byPerson ? address(p.address?.[0]) : address(s.location?.address),
      phone: byPerson ? phone(p.telecom, 'phone') : phone(s.location?.telecom, 'phone'),
      email: byPerson ? phone(p.telecom, 'email') : phone(recorder?.telecom, 'email'),
    },
    item14_bestContact: { name: nameOf(s.recordedBy?.name ?? recorder?.name), phone: phone(s.location?.telecom, 'phone') },
    item15_facility: { name: s.location?.name ?? '', address: address(s.location?.address), phone: phone(s.location?.telecom, 'phone'), fax: phone(s.location?.telecom, 'fax') },
    item16_facilityType: s.location ? 'Public health clinic' : 'Unknown',
    item17_vaccines: sameDay.map(vaccineOf),
    item18_description: description,
    item19_testsAndResults: s.review?.testsAndResults ?? '',
    item20_recovered: outcomeCode === 'resolved' || outcomeCode === 'resolvedWithSequelae' ? 'Yes' : outcomeCode === 'recovering' || outcomeCode === 'ongoing' || outcomeCode === 'fatal' ? 'No' : 'Unknown',
    item21_outcomes: outcomes,
    item22_otherVaccinesPriorMonth: prior.map((d) => ({ ...vaccineOf(d), date: d.occurrenceDateTime ?? '' })),
    item23_previousAdverseEvents: s.otherEvents.filter((o) => o.actuality === 'actual' && (o.date ?? '') < (ae.date ?? '')).map((o) => `${o.date?.slice(0, 10) ?? ''}: ${symptomsOf(o).map((x) => x.display.en).join(', ') || o.event?.text || ''}`).join('; '),
    item24_race: extValue(p, 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race'),
    item25_ethnicity: extValue(p, 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity'),
    serious: isSerious(ae),
    missing: [],
  };
  const missing: string[] = [];
  if (!report.item2_dateOfBirth) missing.push('2 (date of birth)');
  if (report.item3_sex === 'Unknown' && !p.gender) missing.push('3 (sex)');
  if (!report.item4_vaccinationDateTime) missing.push('4 (date and time of vaccination)');
  if (!report.item5_adverseEventStart) missing.push('5 (date and time the adverse event started)');
  if (!report.item6_ageAtVaccination) missing.push('6 (age at vaccination)');
  if (report.item17_vaccines.length === 0 || report.item17_vaccines.some((v) => !v.vaccine || !v.lotNumber)) missing.push('17 (vaccines given, with lot numbers)');
  if (!report.item18_description) missing.push('18 (description of the adverse event)');
  report.missing = missing;
  return report;
}
