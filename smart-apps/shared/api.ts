/**
 * fetch() for the hub's JSON routes (sign-up, waiting room, operator API) and FHIR operations, with one error
 * type that carries the hub's stable error code (OperationOutcome `issue.details.coding`, or OAuth's `error`)
 * so pages can say what happened in the person's language.
 */

export class HubError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
    readonly retryAfterSeconds?: number,
    /** Every issue of a validation answer, with its FHIRPath-style expression (e.g. `name.family`). */
    readonly issues: Array<{ message: string; expression?: string }> = [],
  ) {
    super(message);
    this.name = 'HubError';
  }
}

interface Issue {
  diagnostics?: string;
  expression?: string[];
  details?: { text?: string; coding?: Array<{ code?: string }> };
}
interface OutcomeLike {
  resourceType?: string;
  issue?: Issue[];
  entry?: Array<{ resource?: OutcomeLike }>;
  error?: string;
  error_description?: string;
}

/** The coded error inside an OperationOutcome, an Argonaut searchset carrying one, or an OAuth error body. */
export function errorOf(body: unknown, status: number, retryAfter?: string | null): HubError {
  const b = (body ?? {}) as OutcomeLike;
  const outcome = b.resourceType === 'Bundle' ? b.entry?.find((e) => e.resource?.resourceType === 'OperationOutcome')?.resource : b;
  const issue = outcome?.issue?.[0];
  const code = issue?.details?.coding?.find((c) => c.code)?.code ?? b.error;
  const message = issue?.diagnostics ?? issue?.details?.text ?? b.error_description ?? `HTTP ${status}`;
  const retry = retryAfter && /^\d+$/.test(retryAfter) ? Number(retryAfter) : undefined;
  const issues = (outcome?.issue ?? []).map((i) => ({ message: i.diagnostics ?? i.details?.text ?? '', expression: i.expression?.[0] }));
  return new HubError(status, code, message, retry, issues);
}

export interface CallOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string | undefined>;
  /** FHIR bodies go as application/fhir+json. */
  fhir?: boolean;
}

export interface CallResult<T> {
  status: number;
  body: T;
  headers: Headers;
}

/** Calls the hub; throws HubError for any non-2xx answer (and for a refused Argonaut answer with 2xx-less body). */
export async function call<T>(url: string, opts: CallOptions = {}): Promise<CallResult<T>> {
  const headers = new Headers();
  for (const [k, v] of Object.entries(opts.headers ?? {})) if (v) headers.set(k, v);
  if (opts.body !== undefined) headers.set('content-type', opts.fhir ? 'application/fhir+json' : 'application/json');
  headers.set('accept', opts.fhir ? 'application/fhir+json' : 'application/json');
  const res = await fetch(url, { method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'), headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), cache: 'no-store' });
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = text;
  }
  if (!res.ok) throw errorOf(body, res.status, res.headers.get('retry-after'));
  return { status: res.status, body: body as T, headers: res.headers };
}

/** The hub's public base (where /signup, /waiting-room and /admin hang) from its FHIR base URL. */
export function hubBase(fhirBaseUrl: string): string {
  return fhirBaseUrl.replace(/\/fhir\/?$/, '');
}
