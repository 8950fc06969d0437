/** Builders for the Bundles the REST API answers with. */
import type { Bundle, BundleEntry, OperationOutcome } from 'fhir/r4';
import type { AnyResource } from '../store/repository-types.js';

export function fullUrl(baseUrl: string, r: { resourceType: string; id?: string }): string {
  return `${baseUrl}/${r.resourceType}/${r.id}`;
}

export function searchsetBundle(opts: {
  baseUrl: string;
  selfUrl: string;
  nextUrl?: string;
  resources: AnyResource[];
  included: AnyResource[];
  total?: number;
  outcome?: OperationOutcome;
}): Bundle {
  const entry: BundleEntry[] = [
    ...opts.resources.map((r) => ({ fullUrl: fullUrl(opts.baseUrl, r), resource: r, search: { mode: 'match' as const } })),
    ...opts.included.map((r) => ({ fullUrl: fullUrl(opts.baseUrl, r), resource: r, search: { mode: 'include' as const } })),
  ];
  if (opts.outcome) entry.push({ resource: opts.outcome, search: { mode: 'outcome' as const } });
  const link = [{ relation: 'self', url: opts.selfUrl }];
  if (opts.nextUrl) link.push({ relation: 'next', url: opts.nextUrl });
  // Elements in the order R4 defines them (total before link and entry). FHIR JSON has no empty arrays: a search
  // that matched nothing (or _summary=count) answers no `entry` at all.
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    timestamp: new Date().toISOString(),
    ...(opts.total !== undefined ? { total: opts.total } : {}),
    link,
    ...(entry.length ? { entry } : {}),
  };
}

export function queryString(query: Record<string, string | string[]>, override: Record<string, string | undefined> = {}): string {
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (k in override) continue;
    for (const x of Array.isArray(v) ? v : [v]) sp.append(k, x);
  }
  for (const [k, v] of Object.entries(override)) if (v !== undefined) sp.append(k, v);
  const s = sp.toString();
  return s ? `?${s}` : '';
}
