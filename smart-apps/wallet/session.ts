/**
 * The wallet's SMART session, through fhirclient exactly as a third-party app would use it: a standalone
 * launch with PKCE S256 (the hub shows its sign-in and consent pages), then a Client holding the tokens.
 * fhirclient keeps its state in sessionStorage, so a reload resumes the session without signing in again.
 * @see https://hl7.org/fhir/smart-app-launch/app-launch.html#launch-app-standalone-launch
 */
import FHIR from 'fhirclient';
import type { AppConfig } from '../shared/config.js';
import { hasOwnSession } from '../shared/smart-session.js';
import { errorOf } from '../shared/api.js';
import { errorWords } from '../shared/error-words.js';

/** The fhirclient Client of a completed launch. */
export type SmartClient = Awaited<ReturnType<typeof FHIR.oauth2.ready>>;
type Client = SmartClient;

export const WALLET_SCOPE =
  'launch/patient openid fhirUser patient/Patient.rs patient/Immunization.rs patient/Appointment.rs patient/AdverseEvent.crs patient/Location.rs offline_access';

export function redirectUri(): string {
  return new URL('./', location.href).href;
}

/** True when this page load is the redirect back from the hub, or the wallet's own session is there (not the sign-up app's). */
export function hasSession(cfg: AppConfig): boolean {
  return hasOwnSession(cfg.clientId ?? 'vaxhub-wallet');
}

/** Standalone launch: goes to the hub's authorization endpoint (this page unloads). */
export async function signIn(cfg: AppConfig): Promise<void> {
  await FHIR.oauth2.authorize({
    iss: cfg.fhirBaseUrl,
    clientId: cfg.clientId ?? 'vaxhub-wallet',
    scope: WALLET_SCOPE,
    redirectUri: redirectUri(),
    pkceMode: 'required',
  });
}

/** Completes the launch (code exchange) or resumes the stored session. Throws on an OAuth error answer. */
export async function resume(): Promise<Client> {
  const q = new URLSearchParams(location.search);
  if (q.has('error')) {
    const message = q.get('error_description') ?? q.get('error') ?? 'error';
    sessionStorage.clear();
    history.replaceState(null, '', location.pathname);
    throw new Error(message);
  }
  return FHIR.oauth2.ready();
}

export function signOut(): void {
  sessionStorage.clear();
  location.assign(redirectUri());
}

/**
 * fetch() with the session's bearer token, for the hub's credential routes beside the FHIR API
 * (card file, QR codes, health links). Refreshes an expiring token first (offline_access).
 */
export async function authorizedFetch(client: Client, path: string, init: RequestInit = {}): Promise<Response> {
  await client.refreshIfNeeded();
  const headers = new Headers(init.headers);
  const auth = client.getAuthorizationHeader();
  if (auth) headers.set('Authorization', auth);
  return fetch(hubPath(client, path), { ...init, headers });
}

/** An absolute URL below the hub's public base (where /credentials hangs), from the FHIR base URL. */
export function hubPath(client: Client, path: string): string {
  return new URL(path.replace(/^\//, ''), client.state.serverUrl.replace(/\/fhir\/?$/, '/')).href;
}

/** A hub error answer in the person's words when its code is known (shared/error-words.ts), else its diagnostics or the HTTP status. */
export async function errorText(res: Response): Promise<string> {
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  const e = errorOf(body, res.status, res.headers.get('retry-after'));
  return errorWords(e) ?? e.message;
}
