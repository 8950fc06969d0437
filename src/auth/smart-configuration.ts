/**
 * The discovery documents: SMART's at `{fhirBase}/.well-known/smart-configuration` and OpenID Connect's at
 * `{issuer}/.well-known/openid-configuration` (both public, any origin).
 * @see https://hl7.org/fhir/smart-app-launch/conformance.html#using-well-known
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig
 */
import { ASSERTION_ALGS } from './backend-assertion.js';
import { ID_TOKEN_ALG } from './keys.js';
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
  'permission-online',
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
    id_token_signing_alg_values_supported: [ID_TOKEN_ALG],
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
 * OpenID Connect Discovery 1.0 provider metadata (`sso-openid-connect`): the same endpoints and keys as the SMART
 * document, with the OIDC-required members. `issuer` is exactly the `iss` of every token the hub signs; `sub` is
 * the signed-in person's FHIR resource (`Patient/123`), the same for every client (`public`). There is no userinfo
 * endpoint: the claims travel in the id_token (`fhirUser`).
 */
export function openidConfiguration({ baseUrl }: SmartEndpoints): Record<string, unknown> {
  const smart = smartConfiguration({ baseUrl });
  return {
    issuer: smart.issuer,
    authorization_endpoint: smart.authorization_endpoint,
    token_endpoint: smart.token_endpoint,
    jwks_uri: smart.jwks_uri,
    introspection_endpoint: smart.introspection_endpoint,
    revocation_endpoint: smart.revocation_endpoint,
    scopes_supported: ['openid', 'fhirUser', 'launch', 'launch/patient', 'offline_access', 'online_access'],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [ID_TOKEN_ALG],
    token_endpoint_auth_methods_supported: smart.token_endpoint_auth_methods_supported,
    token_endpoint_auth_signing_alg_values_supported: smart.token_endpoint_auth_signing_alg_values_supported,
    code_challenge_methods_supported: ['S256'],
    claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'nonce', 'fhirUser'],
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    claims_parameter_supported: false,
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
