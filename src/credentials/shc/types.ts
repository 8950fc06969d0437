/**
 * Types named after the SMART Health Cards specification.
 * @see https://spec.smarthealth.cards/ (HL7 SMART Health Cards and Links IG, "Health Cards" specification)
 */
import type { Bundle } from 'fhir/r4';

export const HEALTH_CARD_TYPE = 'https://smarthealth.cards#health-card';
/** Deprecated by SHC 1.4.0 (cards are classified by content) but still accepted as input. */
export const LEGACY_IMMUNIZATION_TYPE = 'https://smarthealth.cards#immunization';
export const CVX_SYSTEM = 'http://hl7.org/fhir/sid/cvx';
export const SHC_FHIR_VERSION = '4.0.1';
export const SMART_HEALTH_CARD_CONTENT_TYPE = 'application/smart-health-card';

/** The JWT payload of a SMART Health Card (`vc` claim inside). */
export interface HealthCardPayload {
  iss: string;
  /** Seconds since the epoch; fractional values are allowed (the spec examples use them). */
  nbf: number;
  vc: {
    type: string[];
    credentialSubject: { fhirVersion: string; fhirBundle: Bundle };
    /** Revocation identifier, base64url alphabet, at most 24 characters. */
    rid?: string;
  };
  exp?: number;
}

/** The JWS protected header of a SMART Health Card. */
export interface HealthCardHeader {
  zip: 'DEF';
  alg: 'ES256';
  kid: string;
}

/** A public signing key as published in `{iss}/.well-known/jwks.json`. */
export interface IssuerPublicJwk {
  kty: 'EC';
  crv: 'P-256';
  use: 'sig';
  alg: 'ES256';
  kid: string;
  x: string;
  y: string;
  x5c?: string[];
  crlVersion?: number;
}

export interface Jwks<K = IssuerPublicJwk> {
  keys: K[];
}

/** Card Revocation List for one key: `{iss}/.well-known/crl/{kid}.json`. */
export interface CardRevocationList {
  kid: string;
  method: 'rid';
  ctr: number;
  /** `rid` values, optionally suffixed with `.<epoch seconds>` (cards with nbf before it are revoked). */
  rids: string[];
}

/** Body of a `.smart-health-card` file. */
export interface HealthCardFile {
  verifiableCredential: string[];
}
