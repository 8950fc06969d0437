/**
 * Staff sign-in of the console: the hub's operator token (ADMIN_TOKEN), entered once and kept in sessionStorage
 * (this tab only; gone when it closes), sent as a bearer to the hub's operator routes. The hub has no staff SMART
 * login yet; when it does, this is the one file to change.
 */
import { call, hubBase, type CallOptions, type CallResult } from '../shared/api.js';

const KEY = 'vaxhub.admin.token';

export function token(): string | undefined {
  return sessionStorage.getItem(KEY) ?? undefined;
}

export function setToken(value: string | undefined): void {
  if (value) sessionStorage.setItem(KEY, value);
  else sessionStorage.removeItem(KEY);
}

let base = '';
export function setHub(fhirBaseUrl: string): void {
  base = hubBase(fhirBaseUrl);
}

/** An operator call to a path below the hub's base (`/admin/...`, `/metrics`, `/draws/...`). */
export function adminCall<T>(path: string, opts: CallOptions = {}): Promise<CallResult<T>> {
  return call<T>(`${base}${path}`, { ...opts, headers: { ...opts.headers, authorization: `Bearer ${token() ?? ''}` } });
}

/** Prometheus text from /metrics. */
export async function metricsText(): Promise<string> {
  const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token() ?? ''}` }, cache: 'no-store' });
  if (!res.ok) throw new Error(`/metrics: HTTP ${res.status}`);
  return res.text();
}

export function hubUrl(path: string): string {
  return `${base}${path}`;
}
