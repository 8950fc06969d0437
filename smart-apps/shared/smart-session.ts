/**
 * Which app a stored SMART session belongs to. fhirclient keeps its state in sessionStorage under one key for the
 * whole origin, and the wallet and the sign-up app share the hub's origin: after "My booking" in the sign-up app,
 * opening the wallet in the same tab resumed the sign-up app's session (its token has no Immunization scope) and
 * the person saw "403 Forbidden" and the hub's JSON. Each app resumes only its own client's session.
 */
const SMART_KEY = 'SMART_KEY';

/** The client id of the session fhirclient would resume, if any. */
export function storedClientId(): string | undefined {
  try {
    const key = sessionStorage.getItem(SMART_KEY);
    if (!key) return undefined;
    const state = sessionStorage.getItem(JSON.parse(key) as string);
    return state ? ((JSON.parse(state) as { clientId?: string }).clientId ?? undefined) : undefined;
  } catch {
    return undefined;
  }
}

/** True when this load is the redirect back from the hub, or this app's own session is stored. */
export function hasOwnSession(clientId: string): boolean {
  const q = new URLSearchParams(location.search);
  return q.has('code') || q.has('error') || storedClientId() === clientId;
}
