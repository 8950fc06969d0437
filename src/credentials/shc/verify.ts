/**
 * The verifier: a `.smart-health-card` file, a JWS, `shc:/` text (legacy chunks too) or a QR PNG ->
 * a plain summary (who, which doses, issuer, valid or why not). Every check runs and every reason is reported.
 * @see https://spec.smarthealth.cards/#verifier-validation (signature, trust, nbf/exp, revocation, bundle)
 */
import { X509Certificate } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';
import type { Bundle, Immunization, Patient } from 'fhir/r4';
import { HealthCardError, isHealthCardError, type HealthCardErrorCode } from './errors.js';
import { decodeHealthCardJws, verifyHealthCardJws, type DecodedHealthCard } from './jws.js';
import { decodeShcQr } from './qr.js';
import { isPng, readQrFromPng } from './qr-image.js';
import { isRevokedBy, isValidRid } from './revocation.js';
import type { TrustProvider, TrustedIssuer } from './trust.js';
import { CVX_SYSTEM, HEALTH_CARD_TYPE, type IssuerPublicJwk } from './types.js';

export interface VerifiedDose {
  cvx?: string;
  date?: string;
  lot?: string;
  performer?: string;
}

export interface VerificationSummary {
  valid: boolean;
  /** Why the card is not valid (empty when valid). */
  reasons: string[];
  /** Stable codes for `reasons`. */
  codes: HealthCardErrorCode[];
  issuer: { iss?: string; name?: string; kid?: string; trustedBy?: string };
  patient: { name?: string; birthDate?: string } | null;
  doses: VerifiedDose[];
  /** Non-fatal findings (non-conformant issuer URL, expired x5c chain, a CRL older than announced...). */
  warnings: string[];
  revocation: 'not-revoked' | 'revoked' | 'not-published' | 'unknown';
  nbf?: number;
  exp?: number;
}

export interface VerifyOptions {
  trust: TrustProvider[];
  /** Verification time (tests freeze it). */
  now?: Date;
  /** Allowed clock skew for nbf, seconds. */
  clockSkewSeconds?: number;
}

export type VerifyInput = string | Uint8Array | string[];

/** Finds the card(s) in any supported input form. */
export function extractJwsList(input: VerifyInput): string[] {
  if (Array.isArray(input)) return [decodeShcQr(input)];
  if (typeof input !== 'string') {
    if (isPng(input)) return [decodeShcQr(readQrFromPng(input))];
    input = new TextDecoder().decode(input);
  }
  const text = input.trim();
  if (text.startsWith('{')) {
    let doc: { verifiableCredential?: unknown };
    try {
      doc = JSON.parse(text) as { verifiableCredential?: unknown };
    } catch {
      throw new HealthCardError('FILE_INVALID', 'The .smart-health-card file is not valid JSON');
    }
    const vcs = doc.verifiableCredential;
    if (!Array.isArray(vcs) || vcs.length === 0 || vcs.some((v) => typeof v !== 'string')) {
      throw new HealthCardError('FILE_INVALID', 'A .smart-health-card file needs a non-empty verifiableCredential array of JWS strings');
    }
    return vcs as string[];
  }
  if (/^shc:\//i.test(text)) return [decodeShcQr(text.split(/\s+/).filter(Boolean))];
  return [text];
}

/** Verifies every card in the input. Bad input becomes an invalid summary, never an exception. */
export async function verifyHealthCards(input: VerifyInput, opts: VerifyOptions): Promise<VerificationSummary[]> {
  let list: string[];
  try {
    list = extractJwsList(input);
  } catch (e) {
    if (!isHealthCardError(e)) throw e;
    return [failed(e)];
  }
  return Promise.all(list.map((jws) => verifyHealthCardJwsSummary(jws, opts)));
}

function failed(e: HealthCardError): VerificationSummary {
  return { valid: false, reasons: [e.message], codes: [e.code], issuer: {}, patient: null, doses: [], warnings: [], revocation: 'unknown' };
}

export async function verifyHealthCardJwsSummary(jws: string, opts: VerifyOptions): Promise<VerificationSummary> {
  const now = (opts.now ?? new Date()).getTime() / 1000;
  let decoded: DecodedHealthCard;
  try {
    decoded = decodeHealthCardJws(jws);
  } catch (e) {
    if (!isHealthCardError(e)) throw e;
    return failed(e);
  }
  const { payload, header } = decoded;
  const summary: VerificationSummary = {
    valid: false,
    reasons: [],
    codes: [],
    issuer: { iss: payload.iss, kid: header.kid },
    patient: null,
    doses: [],
    warnings: [],
    revocation: 'unknown',
    nbf: payload.nbf,
    exp: payload.exp,
  };
  const fail = (code: HealthCardErrorCode, reason: string) => {
    summary.codes.push(code);
    summary.reasons.push(reason);
  };

  checkIssuerUrl(payload.iss, summary.warnings);
  const trusted = typeof payload.iss === 'string' ? await lookupIssuer(payload.iss, opts.trust) : undefined;
  let jwk: IssuerPublicJwk | undefined;
  if (!trusted) {
    fail('ISSUER_UNTRUSTED', `Issuer ${String(payload.iss)} is not in the trust list`);
  } else {
    summary.issuer.name = trusted.name;
    summary.issuer.trustedBy = trusted.source;
    try {
      jwk = (await verifyHealthCardJws(jws, (_iss, kid) => trusted.keys.find((k) => k.kid === kid))).jwk;
    } catch (e) {
      if (!isHealthCardError(e)) throw e;
      fail(e.code, trusted.problem && e.code === 'KEY_NOT_FOUND' ? `${e.message}: ${trusted.problem}` : e.message);
    }
  }

  checkTimes(payload.nbf, payload.exp, now, opts.clockSkewSeconds ?? 60, fail, summary.warnings);
  if (jwk && trusted) await checkRevocation(jwk, trusted, payload.vc?.rid, payload.nbf, summary, fail);
  if (jwk) await checkKey(jwk, payload.iss, now, summary.warnings);
  checkCredential(payload, fail, summary);
  summary.valid = summary.codes.length === 0;
  return summary;
}

async function lookupIssuer(iss: string, providers: TrustProvider[]): Promise<TrustedIssuer | undefined> {
  for (const p of providers) {
    const found = await p.lookup(iss);
    if (found) return found;
  }
  return undefined;
}

function checkIssuerUrl(iss: unknown, warnings: string[]): void {
  if (typeof iss !== 'string') return;
  if (iss.startsWith('http://')) warnings.push(`Issuer ${iss} uses http: non-conformant (the spec requires https), development only`);
  if (iss.endsWith('/')) warnings.push(`Issuer ${iss} ends with "/": non-conformant`);
}

function checkTimes(
  nbf: unknown,
  exp: unknown,
  now: number,
  skew: number,
  fail: (c: HealthCardErrorCode, r: string) => void,
  warnings: string[],
): void {
  if (typeof nbf !== 'number') {
    fail('PAYLOAD_INVALID', 'Payload has no numeric nbf');
  } else {
    if (nbf > 1e11) warnings.push('nbf looks like milliseconds; the spec uses seconds');
    if (nbf > now + skew) fail('NOT_YET_VALID', `Card is not valid before ${new Date(nbf * 1000).toISOString()}`);
  }
  if (exp !== undefined) {
    if (typeof exp !== 'number') fail('PAYLOAD_INVALID', 'exp is not a number');
    else if (exp < now) fail('EXPIRED', `Card expired at ${new Date(exp * 1000).toISOString()}`);
  }
}

async function checkRevocation(
  jwk: IssuerPublicJwk,
  trusted: TrustedIssuer,
  rid: string | undefined,
  nbf: number,
  summary: VerificationSummary,
  fail: (c: HealthCardErrorCode, r: string) => void,
): Promise<void> {
  if (rid !== undefined && !isValidRid(rid)) fail('PAYLOAD_INVALID', 'vc.rid must be base64url characters, at most 24');
  if (jwk.crlVersion === undefined) {
    summary.revocation = 'not-published';
    return;
  }
  let crl;
  try {
    crl = await trusted.crl(jwk.kid);
  } catch (e) {
    summary.warnings.push(`Revocation list for key ${jwk.kid} could not be read: ${(e as Error).message}`);
  }
  if (!crl) {
    // The issuer says it revoked cards under this key; not being able to read which is not "not revoked".
    summary.revocation = 'unknown';
    fail('REVOCATION_UNKNOWN', `Key ${jwk.kid} announces revocation list version ${jwk.crlVersion}, but the list could not be read: whether this card is revoked is unknown`);
    return;
  }
  if (crl.ctr < jwk.crlVersion) summary.warnings.push(`Revocation list ctr ${crl.ctr} is older than crlVersion ${jwk.crlVersion}`);
  if (rid && isRevokedBy(crl, rid, nbf)) {
    summary.revocation = 'revoked';
    fail('REVOKED', `Card revoked by its issuer (rid ${rid} is on the revocation list of key ${jwk.kid})`);
  } else {
    summary.revocation = 'not-revoked';
  }
}

/** Key hygiene: kid = thumbprint; x5c is optional trust information, so its problems are warnings. */
async function checkKey(jwk: IssuerPublicJwk, iss: string, now: number, warnings: string[]): Promise<void> {
  const thumb = await calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y });
  if (thumb !== jwk.kid) warnings.push(`Key id ${jwk.kid} is not the key's RFC 7638 thumbprint`);
  if (!jwk.x5c?.length) return;
  try {
    const certs = jwk.x5c.map((c) => new X509Certificate(Buffer.from(c, 'base64')));
    const leafKey = certs[0].publicKey.export({ format: 'jwk' });
    if (leafKey.x !== jwk.x || leafKey.y !== jwk.y) warnings.push('x5c leaf certificate does not hold the signing key');
    if (!(certs[0].subjectAltName ?? '').includes(`URI:${iss}`)) warnings.push('x5c leaf certificate does not name the issuer URL');
    const expired = certs.filter((c) => new Date(c.validTo).getTime() / 1000 < now);
    if (expired.length) {
      warnings.push(`x5c chain has ${expired.length} expired certificate(s) (leaf valid to ${certs[0].validTo}); x5c is optional trust information`);
    }
  } catch (e) {
    warnings.push(`x5c could not be read: ${(e as Error).message}`);
  }
}

function checkCredential(
  payload: DecodedHealthCard['payload'],
  fail: (c: HealthCardErrorCode, r: string) => void,
  summary: VerificationSummary,
): void {
  const vc = payload.vc;
  if (!vc || typeof vc !== 'object') return fail('PAYLOAD_INVALID', 'Payload has no vc claim');
  if (!Array.isArray(vc.type) || !vc.type.includes(HEALTH_CARD_TYPE)) fail('PAYLOAD_INVALID', `vc.type must include ${HEALTH_CARD_TYPE}`);
  const deprecated = (vc.type ?? []).filter((t) => /#(immunization|covid19|laboratory)$/.test(t));
  if (deprecated.length) summary.warnings.push(`Deprecated vc.type value(s) ${deprecated.join(', ')} (SHC 1.4.0 classifies cards by content)`);
  const subject = vc.credentialSubject;
  if (!subject?.fhirVersion) fail('PAYLOAD_INVALID', 'vc.credentialSubject.fhirVersion is missing');
  const bundle = subject?.fhirBundle as Bundle | undefined;
  if (!bundle || bundle.resourceType !== 'Bundle' || !Array.isArray(bundle.entry)) {
    return fail('BUNDLE_INVALID', 'vc.credentialSubject.fhirBundle is not a FHIR Bundle with entries');
  }
  checkBundle(bundle, fail, summary.warnings);
  summarizeContent(bundle, summary);
}

function checkBundle(bundle: Bundle, fail: (c: HealthCardErrorCode, r: string) => void, warnings: string[]): void {
  const entries = bundle.entry ?? [];
  const fullUrls = new Set<string>();
  entries.forEach((e, i) => {
    if (!e.resource?.resourceType) fail('BUNDLE_INVALID', `Bundle.entry[${i}] has no resource`);
    if (e.fullUrl !== `resource:${i}`) warnings.push(`Bundle.entry[${i}].fullUrl should be resource:${i}`);
    if (e.fullUrl) fullUrls.add(e.fullUrl);
    if (e.resource && 'id' in e.resource) warnings.push(`Bundle.entry[${i}].resource.id should be removed (minimization)`);
  });
  // Every resource:N reference must point into the bundle.
  const refs = JSON.stringify(bundle).match(/"reference":"resource:\d+"/g) ?? [];
  for (const r of refs) {
    const target = r.slice('"reference":"'.length, -1);
    if (!fullUrls.has(target)) fail('BUNDLE_INVALID', `Reference ${target} points to no entry of the bundle`);
  }
}

function summarizeContent(bundle: Bundle, summary: VerificationSummary): void {
  const resources = (bundle.entry ?? []).map((e) => e.resource).filter((r) => r !== undefined);
  const patient = resources.find((r): r is Patient => r.resourceType === 'Patient');
  if (patient) {
    const n = patient.name?.[0];
    const name = n ? (n.text ?? [...(n.given ?? []), n.family].filter(Boolean).join(' ')) : undefined;
    summary.patient = { name, birthDate: patient.birthDate };
  }
  summary.doses = resources
    .filter((r): r is Immunization => r.resourceType === 'Immunization')
    .map((imm) => ({
      cvx: imm.vaccineCode?.coding?.find((c) => c.system === CVX_SYSTEM)?.code,
      date: imm.occurrenceDateTime ?? imm.occurrenceString,
      lot: imm.lotNumber,
      performer: imm.performer?.map((p) => p.actor?.display).find(Boolean),
    }));
}
