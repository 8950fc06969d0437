/**
 * The sign-up app's SMART session, only for "My booking" (see, move, cancel one's appointments): a standalone
 * launch with PKCE through fhirclient, sign-in by a one-time code to the registered email. Booking itself needs
 * no sign-in: the claimed invitation is the authority there.
 * @see https://hl7.org/fhir/smart-app-launch/app-launch.html#launch-app-standalone-launch
 */
import FHIR from 'fhirclient';
import type { AppConfig } from '../shared/config.js';
import { hasOwnSession } from '../shared/smart-session.js';

export type SmartClient = Awaited<ReturnType<typeof FHIR.oauth2.ready>>;

export const SIGNUP_SCOPE = 'launch/patient openid fhirUser patient/Patient.r patient/Appointment.rus patient/Location.rs patient/ImmunizationRecommendation.rs';

export function redirectUri(): string {
  return new URL('./', location.href).href;
}

/** True when this load is the redirect back from the hub, or this app's own session is there (not the wallet's). */
export function hasSession(cfg: AppConfig): boolean {
  return hasOwnSession(cfg.clientId ?? 'vaxhub-signup');
}

export function isRedirectBack(): boolean {
  const q = new URLSearchParams(location.search);
  return q.has('code') || q.has('error');
}

export async function signIn(cfg: AppConfig): Promise<void> {
  await FHIR.oauth2.authorize({ iss: cfg.fhirBaseUrl, clientId: cfg.clientId ?? 'vaxhub-signup', scope: SIGNUP_SCOPE, redirectUri: redirectUri(), pkceMode: 'required' });
}

export async function resume(): Promise<SmartClient> {
  const q = new URLSearchParams(location.search);
  if (q.has('error')) {
    const message = q.get('error_description') ?? q.get('error') ?? 'error';
    sessionStorage.removeItem('SMART_KEY');
    history.replaceState(null, '', location.pathname);
    throw new Error(message);
  }
  return FHIR.oauth2.ready();
}

export function signOut(): void {
  const key = sessionStorage.getItem('SMART_KEY');
  if (key) sessionStorage.removeItem(JSON.parse(key) as string);
  sessionStorage.removeItem('SMART_KEY');
}

/** The current bearer (refreshed when needed). */
export async function bearerOf(client: SmartClient): Promise<string | undefined> {
  await client.refreshIfNeeded();
  return client.getAuthorizationHeader() ?? undefined;
}
