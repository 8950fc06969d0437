/**
 * What the hub vouches for, said once. A health card is the issuer vouching for a dose and a VXU tells a registry
 * the dose happened, so both take only the doses the hub stands behind: recorded by its clinics or staff, received
 * from a registry or EHR connection (with the Provenance their imports write), or verified by staff. A dose a patient
 * or a patient's app writes is kept as a patient report: `primarySource: false`, a `reportOrigin`, the hub's
 * `patient-reported` tag and a Provenance naming the person and the app. It stays in the person's record and is
 * signed or reported only once an operator verifies it (`Immunization/[id]/$verify`), which swaps the tag for
 * `staff-verified`. A verified report is still not primary source (R4: primarySource says the record comes from the
 * person who gave the dose), so primarySource and reportOrigin stay as they were.
 *
 * The hub stamps every patient write, so "no `patient-reported` tag" is the rule: no extra state for the doses its
 * clinics record, and the one-statement create stays for them.
 * @see https://hl7.org/fhir/R4/immunization-definitions.html#Immunization.primarySource
 * @see https://hl7.org/fhir/R4/provenance.html
 */
import type { Coding, Immunization, Provenance, ProvenanceAgent } from 'fhir/r4';
import type { Principal } from '../auth/principal.js';

/** The hub's code system for who stands behind a dose (meta.tag). */
export const DOSE_TRUST_SYSTEM = 'https://vaxhub.org/fhir/CodeSystem/dose-trust';
export const PATIENT_REPORTED_TAG: Coding = { system: DOSE_TRUST_SYSTEM, code: 'patient-reported', display: 'Reported by the patient, not verified by staff' };
export const STAFF_VERIFIED_TAG: Coding = { system: DOSE_TRUST_SYSTEM, code: 'staff-verified', display: 'Patient report verified by staff' };

export const IMMUNIZATION_ORIGIN = 'http://terminology.hl7.org/CodeSystem/immunization-origin';
/** CDC NIP001 (immunization information source), the code system registries read in RXA-9. */
const NIP001 = 'urn:oid:2.16.840.1.114222.4.5.274';
/** R4 immunization-origin codes a person may name for their own report, with the NIP001 code that says the same. */
const ORIGINS: Record<string, { display: string; nip001: [string, string] }> = {
  provider: { display: 'Other Provider', nip001: ['02', 'Historical information - from other provider'] },
  record: { display: 'Written Record', nip001: ['03', "Historical information - from parent's written record"] },
  recall: { display: 'Parent/Guardian/Patient Recall', nip001: ['04', "Historical information - from parent's recall"] },
  school: { display: 'School Record', nip001: ['07', 'Historical information - from school record'] },
};

const PROVENANCE_PARTICIPANT = 'http://terminology.hl7.org/CodeSystem/provenance-participant-type';
const DATA_OPERATION = 'http://terminology.hl7.org/CodeSystem/v3-DataOperation';
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
/** The identifier system of OAuth clients, as the AuditEvents name them. */
export const OAUTH_CLIENT_SYSTEM = 'urn:vaxhub:oauth-client';
export const PROVENANCE_ACTIVITY_SYSTEM = 'https://vaxhub.org/fhir/CodeSystem/provenance-activity';

type Tagged = { meta?: { tag?: Coding[] } };

function hasTag(r: Tagged | undefined, tag: Coding): boolean {
  return Boolean(r?.meta?.tag?.some((t) => t.system === tag.system && t.code === tag.code));
}

/** Whether the hub stands behind this dose: anything but an unverified patient report. */
export function isVouchedFor(imm: Tagged): boolean {
  return !hasTag(imm, PATIENT_REPORTED_TAG);
}

export function isStaffVerified(imm: Tagged): boolean {
  return hasTag(imm, STAFF_VERIFIED_TAG);
}

/**
 * Whether this caller writes as the person (or for them, through their app) rather than as the hub's staff:
 * a patient token, or a user token whose user is a Patient or RelatedPerson (staff are Practitioners).
 */
export function writesAsPatient(p: Principal): boolean {
  if (p.kind === 'patient') return true;
  return p.kind === 'user' && /^(Patient|RelatedPerson)\//.test(p.fhirUser ?? '');
}

/** The hub's own tags, which only the hub sets: never taken from a client's input. */
function withoutTrustTags(tags: Coding[] | undefined): Coding[] {
  return (tags ?? []).filter((t) => t.system !== DOSE_TRUST_SYSTEM);
}

function withTags<T extends Immunization>(imm: T, tags: Coding[]): T {
  const { meta, ...rest } = imm;
  const { tag: _old, ...otherMeta } = meta ?? {};
  void _old;
  const nextMeta = tags.length ? { ...otherMeta, tag: tags } : otherMeta;
  return { ...rest, ...(Object.keys(nextMeta).length ? { meta: nextMeta } : {}) } as T;
}

/** The report's origin: the immunization-origin code the person gave (and its NIP001 twin), else their recall. */
function reportOriginOf(given: Immunization['reportOrigin']): NonNullable<Immunization['reportOrigin']> {
  const named = given?.coding?.find((c) => c.system === IMMUNIZATION_ORIGIN && c.code && ORIGINS[c.code])?.code ?? 'recall';
  const o = ORIGINS[named]!;
  return {
    coding: [
      { system: IMMUNIZATION_ORIGIN, code: named, display: o.display },
      { system: NIP001, code: o.nip001[0], display: o.nip001[1] },
    ],
    ...(given?.text ? { text: given.text } : {}),
  };
}

/** A dose as a patient report (pure): not primary source, its origin coded, tagged; whatever trust it claimed dropped. */
export function asPatientReport<T extends Immunization>(imm: T): T {
  const out = withTags(imm, [...withoutTrustTags(imm.meta?.tag), PATIENT_REPORTED_TAG]);
  return { ...out, primarySource: false, reportOrigin: reportOriginOf(imm.reportOrigin) };
}

/**
 * A staff or system update keeps the dose's trust as the hub recorded it: only `$verify` turns a patient report into
 * a dose the hub vouches for, so an ordinary edit (a corrected lot number) neither verifies it nor takes that back.
 */
export function keepingTrustOf<T extends Immunization>(next: T, previous: Immunization): T {
  const kept = (previous.meta?.tag ?? []).filter((t) => t.system === DOSE_TRUST_SYSTEM);
  const out = withTags(next, [...withoutTrustTags(next.meta?.tag), ...kept]);
  return isVouchedFor(out) ? out : { ...out, primarySource: false, reportOrigin: reportOriginOf(out.reportOrigin) };
}

/** The verified dose (pure): the report's tag becomes `staff-verified`; primarySource and reportOrigin unchanged. */
export function asStaffVerified<T extends Immunization>(imm: T): T {
  return withTags(imm, [...withoutTrustTags(imm.meta?.tag), STAFF_VERIFIED_TAG]);
}

function versionRef(imm: Immunization): string {
  return `Immunization/${imm.id}/_history/${imm.meta?.versionId ?? '1'}`;
}

/** The app acting: the OAuth client, as AuditEvents name it. */
function appAgent(p: Principal, onBehalfOf: string | undefined): ProvenanceAgent[] {
  if (!p.clientId) return [];
  return [
    {
      type: { coding: [{ system: DCM, code: '110150', display: 'Application' }] },
      who: { identifier: { system: OAUTH_CLIENT_SYSTEM, value: p.clientId }, display: `OAuth client ${p.clientId}` },
      ...(onBehalfOf ? { onBehalfOf: { reference: onBehalfOf } } : {}),
    },
  ];
}

/** Who reported the dose: the token's user when it names a person, else the token's patient, else the dose's. */
function reporterOf(p: Principal, imm: Immunization): string | undefined {
  if (/^(Patient|RelatedPerson)\//.test(p.fhirUser ?? '')) return p.fhirUser;
  if (p.patientId) return `Patient/${p.patientId}`;
  return imm.patient?.reference;
}

/**
 * The Provenance of a patient's write of a dose: the person as author (the source of the information), the app as
 * the software that entered it on their behalf, and for an update or delete the version it replaced.
 */
export function patientReportProvenance(
  p: Principal,
  interaction: 'create' | 'update' | 'delete',
  stored: Immunization,
  previous: Immunization | undefined,
  recorded: Date,
): Provenance {
  const person = reporterOf(p, stored);
  return {
    resourceType: 'Provenance',
    target: [{ reference: versionRef(stored) }],
    recorded: recorded.toISOString(),
    activity: { coding: [{ system: DATA_OPERATION, code: interaction.toUpperCase() }] },
    agent: [
      {
        type: { coding: [{ system: PROVENANCE_PARTICIPANT, code: 'author', display: 'Author' }] },
        who: person ? { reference: person } : { display: 'the patient' },
      },
      ...appAgent(p, person),
    ],
    ...(previous && interaction !== 'create' ? { entity: [{ role: 'revision' as const, what: { reference: versionRef(previous) } }] } : {}),
  };
}

/** The Provenance of `$verify`: the staff member (or the operator bearer) as verifier of the version they checked. */
export function verificationProvenance(p: Principal, verified: Immunization, reported: Immunization, recorded: Date): Provenance {
  const staff = /^(Practitioner|PractitionerRole)\//.test(p.fhirUser ?? '') ? p.fhirUser : undefined;
  return {
    resourceType: 'Provenance',
    target: [{ reference: versionRef(verified) }],
    recorded: recorded.toISOString(),
    activity: { coding: [{ system: PROVENANCE_ACTIVITY_SYSTEM, code: 'verify', display: 'Patient report verified by staff' }] },
    agent: [
      {
        type: { coding: [{ system: PROVENANCE_PARTICIPANT, code: 'verifier', display: 'Verifier' }] },
        who: staff ? { reference: staff } : { display: 'operator (ADMIN_TOKEN)' },
      },
      ...appAgent(p, staff),
    ],
    entity: [{ role: 'source', what: { reference: versionRef(reported) } }],
  };
}
