/** Small HTTP helpers for the IIS end-to-end suites: FHIR calls (open access in tests) and operator calls. */
import type { Resource } from 'fhir/r4';
import { ADMIN } from '../helpers/hub.js';
import type { IisConnection } from '../../src/sync/iis/connections.js';
import type { IisMessageRecord } from '../../src/sync/iis/outbox-admin.js';
import { sampleSender } from './sample-dose.js';

export interface HttpAnswer<T> {
  status: number;
  body: T;
}

async function call<T>(url: string, method: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer<T>> {
  const res = await fetch(url, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': method === 'GET' ? 'application/json' : 'application/fhir+json' } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

export class HubClient {
  constructor(readonly baseUrl: string) {}

  fhir<T = Resource>(method: string, path: string, body?: unknown): Promise<HttpAnswer<T>> {
    return call<T>(`${this.baseUrl}/fhir/${path}`, method, body);
  }

  /** Creates a resource and returns it as stored (with its server id); fails the test on any other answer. */
  async create<T extends Resource>(resource: T): Promise<T & { id: string }> {
    const { id: _drop, ...rest } = resource;
    const r = await this.fhir<T & { id: string }>('POST', resource.resourceType, rest);
    if (r.status !== 201) throw new Error(`create ${resource.resourceType}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  admin<T = unknown>(method: string, path: string, body?: unknown, auth = true): Promise<HttpAnswer<T>> {
    const headers = { ...(auth ? ADMIN : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) };
    return call<T>(`${this.baseUrl}/admin/iis/${path}`, method, body, headers);
  }

  async putConnection(id: string, c: Partial<Omit<IisConnection, 'id'>> & Pick<IisConnection, 'transport' | 'endpoint'>): Promise<IisConnection> {
    const r = await this.admin<IisConnection>('PUT', `connections/${id}`, { name: `Registry ${id}`, sender: sampleSender, coverage: { all: true }, ...c });
    if (r.status !== 200) throw new Error(`PUT connection ${id}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  async messages(query: Record<string, string>): Promise<IisMessageRecord[]> {
    const r = await this.admin<IisMessageRecord[]>('GET', `messages?${new URLSearchParams({ limit: '10000', ...query }).toString()}`);
    if (r.status !== 200) throw new Error(`GET messages: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }
}

/** Polls until `probe` returns a value other than undefined/false, or fails with what it last saw. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 15_000, everyMs = 25): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
