/**
 * How the console acts as the hub's operator. Normally a staff member signs in with a SMART standalone launch
 * (PKCE, through fhirclient like any third-party app): the hub mails a one-time code to their staff email and grants
 * the hub's `vaxhub/operator` scope when their account's role holds it; fhirclient keeps the tokens in
 * sessionStorage. Break-glass, the hub's operator token (ADMIN_TOKEN) can be typed in instead; it is kept in
 * sessionStorage too (this tab only; gone when it closes). Every operator call sends whichever bearer is current.
 * @see https://hl7.org/fhir/smart-app-launch/app-launch.html#launch-app-standalone-launch
 */
import FHIR from 'fhirclient';
import type { Practitioner } from 'fhir/r4';
import { call, hubBase, type CallOptions, type CallResult } from '../shared/api.js';
import type { AppConfig } from '../shared/config.js';

type Client = Awaited<ReturnType<typeof FHIR.oauth2.ready>>;

/** What the console asks for: a staff sign-in (user/ scope, identity) with operator authority. */
export const ADMIN_SCOPE = 'openid fhirUser vaxhub/operator user/Practitioner.r';

const TOKEN_KEY = 'vaxhub.admin.token';
/** fhirclient's key in sessionStorage that points at the current authorization state. */
const SMART_KEY = 'SMART_KEY';

let base = '';
let fhirBase = '';
let client: Client | undefined;

export function setHub(fhirBaseUrl: string): void {
  fhirBase = fhirBaseUrl.replace(/\/+$/, '');
  base = hubBase(fhirBaseUrl);
}

export function redirectUri(): string {
  return new URL('./', location.href).href;
}

/** Who is signed in: a staff member (their Practitioner) or the break-glass operator token. */
export type Operator = { kind: 'staff'; name: string; fhirUser: string } | { kind: 'token' };

// --- break-glass: the operator token ---

export function breakGlassToken(): string | undefined {
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

export function setBreakGlassToken(value: string | undefined): void {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// --- staff sign-in: SMART standalone launch ---

/** True when this page load is the redirect back from the hub, or a SMART session is already stored. */
export function hasSmartSession(): boolean {
  const q = new URLSearchParams(location.search);
  return q.has('code') || q.has('error') || sessionStorage.getItem(SMART_KEY) !== null;
}

/** Goes to the hub's authorization endpoint (this page unloads): staff sign-in, then consent, then back here. */
export async function signIn(cfg: AppConfig): Promise<void> {
  setBreakGlassToken(undefined);
  await FHIR.oauth2.authorize({
    iss: cfg.fhirBaseUrl,
    clientId: cfg.clientId ?? 'vaxhub-admin',
    scope: ADMIN_SCOPE,
    redirectUri: redirectUri(),
    pkceMode: 'required',
  });
}

function displayName(p: Practitioner): string {
  const n = p.name?.[0];
  return n?.text ?? [...(n?.given ?? []), n?.family].filter(Boolean).join(' ');
}

/**
 * Completes the launch (code exchange) or resumes the stored session, then reads the person's own Practitioner
 * through the FHIR API to show who is signed in. Throws on an OAuth error answer or an ended session.
 */
export async function resume(): Promise<Operator> {
  const q = new URLSearchParams(location.search);
  if (q.has('error')) {
    const message = q.get('error_description') ?? q.get('error') ?? 'error';
    forgetSession();
    history.replaceState(null, '', location.pathname + location.hash);
    throw new Error(message);
  }
  client = await FHIR.oauth2.ready();
  const expiresAt = client.state.expiresAt;
  if (expiresAt !== undefined && expiresAt * 1000 <= Date.now()) {
    forgetSession();
    throw new SessionEnded();
  }
  const fhirUser = client.getFhirUser() ?? '';
  const me = (await client.request<Practitioner>(fhirUser)) as Practitioner;
  return { kind: 'staff', name: displayName(me) || fhirUser, fhirUser };
}

/** The signed-in staff session is over (expired): the person signs in again. */
export class SessionEnded extends Error {
  constructor() {
    super('session ended');
    this.name = 'SessionEnded';
  }
}

function forgetSession(): void {
  client = undefined;
  sessionStorage.clear();
}

/** Signs out: revokes the staff access token at the hub (RFC 7009, best effort) and forgets both credentials. */
export async function signOut(): Promise<void> {
  const token = client?.state.tokenResponse?.access_token;
  const clientId = client?.state.clientId;
  forgetSession();
  if (!token || !clientId) return;
  try {
    const discovery = (await (await fetch(`${fhirBase}/.well-known/smart-configuration`, { cache: 'no-store' })).json()) as { revocation_endpoint?: string };
    if (discovery.revocation_endpoint) {
      await fetch(discovery.revocation_endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, client_id: clientId }).toString(),
      });
    }
  } catch {
    /* the token expires on its own within the hour */
  }
}

/** The bearer of the current operator: the staff access token, else the break-glass token. */
export function bearer(): string {
  return client?.state.tokenResponse?.access_token ?? breakGlassToken() ?? '';
}

/** An operator call to a path below the hub's base (`/admin/...`, `/metrics`, `/draws/...`). */
export function adminCall<T>(path: string, opts: CallOptions = {}): Promise<CallResult<T>> {
  return call<T>(`${base}${path}`, { ...opts, headers: { ...opts.headers, authorization: `Bearer ${bearer()}` } });
}

/** Prometheus text from /metrics. */
export async function metricsText(): Promise<string> {
  const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${bearer()}` }, cache: 'no-store' });
  if (!res.ok) throw new Error(`/metrics: HTTP ${res.status}`);
  return res.text();
}

export function hubUrl(path: string): string {
  return `${base}${path}`;
}
