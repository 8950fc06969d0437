/**
 * `$health-cards-issue` logic, free of HTTP: the IG's Parameters in, Parameters out.
 * credentialType values are ANDed FHIR resource types (legacy `#immunization` = Immunization; `#health-card`
 * matches any card); credentialValueSet values are ANDed value sets over Immunization.vaccineCode;
 * includeIdentityClaim narrows the Patient claims; `_since` returns the card only when its content changed since.
 * @see https://hl7.org/fhir/uv/smart-health-cards-and-links/OperationDefinition-patient-i-health-cards-issue.html
 */
import type { Coding, Immunization, Parameters, ParametersParameter, Patient } from 'fhir/r4';
import { badRequest, fhirError } from '../../fhir/outcomes.js';
import type { ActiveIssuerKey } from './keys.js';
import { signHealthCard } from './jws.js';
import { buildHealthCardPayload, buildImmunizationBundle } from './payload.js';
import { computeRid } from './revocation.js';
import { isVouchedFor } from '../../records/dose-trust.js';
import { HEALTH_CARD_TYPE, LEGACY_IMMUNIZATION_TYPE } from './types.js';

export interface HealthCardIssuer {
  /** Public issuer URL, https, no trailing slash. */
  iss: string;
  /** FHIR base for `resourceLink.hostedResource`, e.g. `https://hub.example.org/fhir`. */
  fhirBaseUrl: string;
  /** Optional card lifetime in seconds (`exp`); cards normally do not expire. */
  lifetimeSeconds?: number;
}

/** Membership of a value set by `system|code` (a Set of them will do), or undefined when the value set is unknown. */
export type ValueSetResolver = (url: string) => Promise<{ has(systemAndCode: string): boolean } | undefined>;

export interface IssueRequest {
  patient: Patient;
  immunizations: Immunization[];
  params: Parameters;
  issuer: HealthCardIssuer;
  keys: { activeKey(): Promise<ActiveIssuerKey> };
  /** All-time revocations (`cards revoke --all-time`): such a person is issued no card. */
  revocations?: { isRevokedForAllTime(patientId: string): Promise<boolean> };
  resolveValueSet?: ValueSetResolver;
  now?: Date;
}

export interface HealthCardsIssueInput {
  credentialTypes: string[];
  credentialValueSets: string[];
  includeIdentityClaims: string[];
  since?: string;
}

const LEGACY_LABORATORY_TYPE = 'https://smarthealth.cards#laboratory';

/** Reads and checks the operation's input Parameters (bad input -> 400 OperationOutcome). */
export function parseIssueParameters(params: unknown): HealthCardsIssueInput {
  const p = params as Parameters | undefined;
  if (!p || p.resourceType !== 'Parameters') throw badRequest('Body must be a FHIR Parameters resource', 'Parameters');
  const all = p.parameter ?? [];
  const values = (name: string, pick: (x: ParametersParameter) => string | undefined) =>
    all.filter((x) => x.name === name).map((x, i) => {
      const v = pick(x);
      if (typeof v !== 'string' || !v) throw badRequest(`${name}[${i}] has no value of the expected type`, `Parameters.parameter.where(name='${name}')`);
      return v;
    });
  const credentialTypes = values('credentialType', (x) => x.valueUri ?? x.valueString);
  if (!credentialTypes.length) throw badRequest('credentialType is required (1..*)', "Parameters.parameter.where(name='credentialType')");
  const since = values('_since', (x) => x.valueDateTime ?? x.valueString);
  if (since.length > 1) throw badRequest('_since may appear once', "Parameters.parameter.where(name='_since')");
  if (since[0] && Number.isNaN(Date.parse(since[0].length === 4 ? `${since[0]}-01-01` : since[0].length === 7 ? `${since[0]}-01` : since[0]))) {
    throw badRequest(`_since ${since[0]} is not a FHIR dateTime`, "Parameters.parameter.where(name='_since')");
  }
  return {
    credentialTypes,
    credentialValueSets: values('credentialValueSet', (x) => x.valueUri ?? x.valueString),
    includeIdentityClaims: values('includeIdentityClaim', (x) => x.valueString),
    since: since[0],
  };
}

/** A credentialType as the FHIR resource type it asks for; undefined = any card; null = nothing we issue. */
function normalizeType(t: string): string | undefined | null {
  if (t === HEALTH_CARD_TYPE) return undefined;
  if (t === LEGACY_IMMUNIZATION_TYPE) return 'Immunization';
  if (t === LEGACY_LABORATORY_TYPE) return 'Observation';
  if (/^[A-Z][A-Za-z]+$/.test(t)) return t;
  return null;
}

const codeKey = (c: Coding) => `${c.system ?? ''}|${c.code ?? ''}`;

function sinceInstant(since: string): number {
  if (/^\d{4}$/.test(since)) return Date.parse(`${since}-01-01T00:00:00Z`);
  if (/^\d{4}-\d{2}$/.test(since)) return Date.parse(`${since}-01T00:00:00Z`);
  return Date.parse(since);
}

export async function issueHealthCards(req: IssueRequest): Promise<Parameters> {
  const input = parseIssueParameters(req.params);
  const empty: Parameters = { resourceType: 'Parameters' };
  // A card would only carry a rid that is already on its key's CRL: refuse plainly instead of signing it.
  if (req.patient.id && (await req.revocations?.isRevokedForAllTime(req.patient.id))) {
    throw fhirError('CARDS_REVOKED', `The health cards of Patient/${req.patient.id} are revoked with no end date; no new card is issued`);
  }

  // Cards here hold Patient + Immunization; every requested type must be among them (logical AND).
  const wanted = input.credentialTypes.map(normalizeType);
  if (wanted.some((t) => t === null || (t !== undefined && t !== 'Immunization' && t !== 'Patient'))) return empty;

  // A card is the hub vouching for each dose: a patient's own unverified report is never signed (records/dose-trust.ts).
  let doses = req.immunizations.filter((i) => i.status === 'completed' && isVouchedFor(i));
  if (input.credentialValueSets.length) {
    if (!req.resolveValueSet) throw badRequest('This server cannot evaluate credentialValueSet', "Parameters.parameter.where(name='credentialValueSet')");
    const sets: Array<{ has(systemAndCode: string): boolean }> = [];
    for (const url of input.credentialValueSets) {
      const set = await req.resolveValueSet(url);
      if (!set) throw badRequest(`Unknown credentialValueSet ${url}: this server knows the value sets at /fhir/ValueSet`, "Parameters.parameter.where(name='credentialValueSet')");
      sets.push(set);
    }
    const inSet = (i: Immunization, s: { has(systemAndCode: string): boolean }) => (i.vaccineCode.coding ?? []).some((c) => s.has(codeKey(c)));
    // Content from all the value sets (AND), and nothing outside them (granular sharing).
    if (!sets.every((s) => doses.some((i) => inSet(i, s)))) return empty;
    doses = doses.filter((i) => sets.some((s) => inSet(i, s)));
  }
  if (!doses.length) return empty;

  if (input.since) {
    const since = sinceInstant(input.since);
    const changed = [req.patient, ...doses].some((r) => Date.parse(r.meta?.lastUpdated ?? '') >= since);
    if (!changed) return empty;
  }

  const patient = narrowIdentity(req.patient, input.includeIdentityClaims);
  const bundle = buildImmunizationBundle(patient, doses);
  const key = await req.keys.activeKey();
  const nbf = Math.floor((req.now ?? new Date()).getTime() / 1000);
  const payload = buildHealthCardPayload(bundle, {
    iss: req.issuer.iss,
    nbf,
    exp: req.issuer.lifetimeSeconds ? nbf + req.issuer.lifetimeSeconds : undefined,
    rid: req.patient.id ? computeRid(key.ridSecret, key.kid, req.patient.id) : undefined,
  });
  const jws = await signHealthCard(payload, key);

  const hosted = [req.patient, ...doses.filter((d) => d.status === 'completed')];
  const links: ParametersParameter[] = hosted
    .map((r, n) => ({ r, n }))
    .filter(({ r }) => r.id)
    .map(({ r, n }) => ({
      name: 'resourceLink',
      part: [
        { name: 'vcIndex', valueInteger: 0 },
        { name: 'bundledResource', valueUri: `resource:${n}` },
        { name: 'hostedResource', valueUri: `${req.issuer.fhirBaseUrl}/${r.resourceType}/${r.id}` },
      ],
    }));
  return { resourceType: 'Parameters', parameter: [{ name: 'verifiableCredential', valueString: jws }, ...links] };
}

/** includeIdentityClaim (e.g. `Patient.name`) limits the Patient claims; absent = the issuer's default (name + birthDate). */
function narrowIdentity(patient: Patient, claims: string[]): Patient {
  if (!claims.length) return patient;
  const allowed = new Set(claims.map((c) => c.replace(/^Patient\./, '')));
  const out: Patient = { resourceType: 'Patient', id: patient.id };
  if (allowed.has('name') && patient.name) out.name = patient.name;
  if (allowed.has('birthDate') && patient.birthDate) out.birthDate = patient.birthDate;
  return out;
}
