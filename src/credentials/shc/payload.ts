/**
 * Builds the Verifiable Credential payload of a SMART Health Card from a Patient and Immunizations.
 * The Patient carries only `name` and `birthDate`; each Immunization only what a verifier needs
 * (status, CVX vaccine code, date, lot number, performer's name), as the SHC Vaccination IG's
 * data-minimization profiles ask.
 * @see https://spec.smarthealth.cards/#health-cards-are-encoded-as-compact-serialization-json-web-signatures-jws
 */
import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, HumanName, Immunization, Patient } from 'fhir/r4';
import { minimizeBundle } from './minimize.js';
import { CVX_SYSTEM, HEALTH_CARD_TYPE, SHC_FHIR_VERSION, type HealthCardPayload } from './types.js';

export interface PayloadOptions {
  iss: string;
  /** Seconds since the epoch (fractional allowed). */
  nbf: number;
  exp?: number;
  rid?: string;
  /** Defaults to `["https://smarthealth.cards#health-card"]`. */
  types?: string[];
}

/** Wraps an (already minimized) bundle in the `vc` claim, keys in the order the spec examples use. */
export function buildHealthCardPayload(fhirBundle: Bundle, opts: PayloadOptions): HealthCardPayload {
  if (!Number.isFinite(opts.nbf) || opts.nbf <= 0) throw new TypeError('nbf must be epoch seconds');
  if (opts.nbf > 1e11) throw new TypeError('nbf looks like milliseconds; the spec wants seconds');
  if (opts.exp !== undefined && !(opts.exp > opts.nbf)) throw new TypeError('exp must be after nbf');
  const payload: HealthCardPayload = {
    iss: opts.iss,
    nbf: opts.nbf,
    vc: {
      type: opts.types ?? [HEALTH_CARD_TYPE],
      credentialSubject: { fhirVersion: SHC_FHIR_VERSION, fhirBundle },
    },
  };
  if (opts.rid !== undefined) payload.vc.rid = opts.rid;
  if (opts.exp !== undefined) payload.exp = opts.exp;
  return payload;
}

/** Patient (name, birthDate only) + completed Immunizations -> minimized bundle. */
export function buildImmunizationBundle(patient: Patient, immunizations: Immunization[], baseUrl?: string): Bundle {
  const patientEntry = entryFor(projectPatient(patient), baseUrl);
  // Every Immunization given here is this patient's: point them at the Patient entry whatever form
  // (relative, absolute, contained) their own reference had.
  const subject = { reference: patientEntry.fullUrl };
  const doses = immunizations
    .filter((i) => i.status === 'completed')
    .map((i) => entryFor({ ...projectImmunization(i), patient: subject }, baseUrl));
  return minimizeBundle({ resourceType: 'Bundle', type: 'collection', entry: [patientEntry, ...doses] });
}

/** The same as `buildImmunizationBundle` + `buildHealthCardPayload`. */
export function buildImmunizationPayload(
  patient: Patient,
  immunizations: Immunization[],
  opts: PayloadOptions,
): HealthCardPayload {
  return buildHealthCardPayload(buildImmunizationBundle(patient, immunizations), opts);
}

function entryFor(resource: Patient | Immunization, baseUrl?: string): BundleEntry {
  if (!resource.id) return { fullUrl: `urn:uuid:${randomUUID()}`, resource };
  const local = `${resource.resourceType}/${resource.id}`;
  return { fullUrl: baseUrl ? `${baseUrl}/${local}` : local, resource };
}

/** Names without old/nickname/anonymous uses; only the parts a person is recognised by. */
function projectName(n: HumanName): HumanName {
  const out: HumanName = {};
  if (n.family) out.family = n.family;
  if (n.given?.length) out.given = n.given;
  if (n.prefix?.length) out.prefix = n.prefix;
  if (n.suffix?.length) out.suffix = n.suffix;
  if (!n.family && !n.given?.length && n.text) out.text = n.text;
  return out;
}

export function projectPatient(p: Patient): Patient {
  const current = (p.name ?? []).filter((n) => !n.use || n.use === 'official' || n.use === 'usual');
  const names = (current.length ? current : (p.name ?? [])).map(projectName).filter((n) => Object.keys(n).length);
  const out: Patient = { resourceType: 'Patient', id: p.id };
  if (names.length) out.name = names;
  if (p.birthDate) out.birthDate = p.birthDate;
  return out;
}

export function projectImmunization(i: Immunization): Immunization {
  const out: Immunization = {
    resourceType: 'Immunization',
    id: i.id,
    status: i.status,
    // Vaccine codes are CVX: other codings (NDC, SNOMED, local codes) are not part of the card.
    vaccineCode: { coding: (i.vaccineCode.coding ?? []).filter((c) => c.system === CVX_SYSTEM && c.code).map((c) => ({ system: c.system, code: c.code })) },
    patient: { reference: i.patient.reference },
  };
  if (!out.vaccineCode.coding?.length) out.vaccineCode = { text: i.vaccineCode.text };
  if (i.occurrenceDateTime) out.occurrenceDateTime = i.occurrenceDateTime;
  else if (i.occurrenceString) out.occurrenceString = i.occurrenceString;
  if (i.isSubpotent) out.isSubpotent = true;
  // The performer's organization is named, not referenced: the Organization is not in the card.
  const performers = (i.performer ?? []).filter((p) => p.actor.display).map((p) => ({ actor: { display: p.actor.display } }));
  if (performers.length) out.performer = performers;
  if (i.lotNumber) out.lotNumber = i.lotNumber;
  return out;
}
