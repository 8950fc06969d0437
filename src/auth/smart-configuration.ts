/**
 * The SMART discovery document served at `{fhirBase}/.well-known/smart-configuration` (public, any origin).
 * @see https://hl7.org/fhir/smart-app-launch/conformance.html#using-well-known
 */
import { ASSERTION_ALGS } from './backend-assertion.js';
import { CONTEXT_SCOPES } from './scopes.js';

export interface SmartEndpoints {
  /** The hub's public URL (issuer); the /auth routes hang below it. */
  baseUrl: string;
}

export const SMART_CAPABILITIES = [
  'launch-standalone',
  'launch-ehr',
  'client-public',
  'client-confidential-asymmetric',
  'context-standalone-patient',
  'context-ehr-patient',
  'sso-openid-connect',
  'permission-patient',
  'permission-user',
  'permission-v1',
  'permission-v2',
  'permission-offline',
  'authorize-post',
  'health-cards',
] as const;

export function authUrls(baseUrl: string): Record<'authorize' | 'token' | 'introspect' | 'revoke' | 'jwks' | 'clients', string> {
  const b = baseUrl.replace(/\/+$/, '');
  return {
    authorize: `${b}/auth/authorize`,
    token: `${b}/auth/token`,
    introspect: `${b}/auth/introspect`,
    revoke: `${b}/auth/revoke`,
    jwks: `${b}/auth/jwks`,
    clients: `${b}/auth/admin/clients`,
  };
}

export function smartConfiguration({ baseUrl }: SmartEndpoints): Record<string, unknown> {
  const u = authUrls(baseUrl);
  return {
    issuer: baseUrl.replace(/\/+$/, ''),
    jwks_uri: u.jwks,
    authorization_endpoint: u.authorize,
    token_endpoint: u.token,
    introspection_endpoint: u.introspect,
    revocation_endpoint: u.revoke,
    grant_types_supported: ['authorization_code', 'client_credentials', 'refresh_token'],
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['private_key_jwt', 'none'],
    token_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGS],
    id_token_signing_alg_values_supported: ['ES384'],
    scopes_supported: [
      ...CONTEXT_SCOPES,
      'patient/*.rs',
      'patient/*.read',
      'user/*.rs',
      'user/*.read',
      'system/*.rs',
      'system/*.read',
      'system/*.cruds',
      'patient/Patient.rs',
      'patient/Immunization.rs',
      'system/Immunization.rs',
    ],
    capabilities: [...SMART_CAPABILITIES],
  };
}

/**
 * The deprecated `rest.security` extension for CapabilityStatement (kept for SMART 1.0 clients); the FHIR layer
 * may merge it into its CapabilityStatement.
 * @see https://hl7.org/fhir/smart-app-launch/conformance.html#declaring-support-for-oauth2-endpoints
 */
export function capabilityStatementSecurity(baseUrl: string): Record<string, unknown> {
  const u = authUrls(baseUrl);
  return {
    service: [
      {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }],
      },
    ],
    extension: [
      {
        url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
        extension: [
          { url: 'authorize', valueUri: u.authorize },
          { url: 'token', valueUri: u.token },
          { url: 'introspect', valueUri: u.introspect },
          { url: 'revoke', valueUri: u.revoke },
        ],
      },
    ],
  };
}
