import type { FhirContext, FhirRequest, FhirResponse } from '../types.js';
import { notFound } from '../outcomes.js';
import { versionHeaders } from './http-meta.js';
import { applyElements, applySummary } from '../subsetting.js';
import type { AnyResource } from '../../store/repository-types.js';

function subset(req: FhirRequest, r: AnyResource): AnyResource {
  const elements = req.query._elements;
  if (typeof elements === 'string') return applyElements(r, elements.split(','));
  const summary = req.query._summary;
  if (typeof summary === 'string' && ['true', 'text', 'data'].includes(summary)) return applySummary(r, summary as 'true');
  return r;
}

export async function readHandler(req: FhirRequest, ctx: FhirContext, type: string, id: string): Promise<FhirResponse> {
  ctx.policy.assertAllowed(req.principal, type, 'read');
  const stored = await ctx.repo.read(type, id);
  if (!ctx.policy.canSee(req.principal, stored)) throw notFound(`${type}/${id}`);
  const view = ctx.views.get(type);
  const r = view ? (await view([stored], ctx.db))[0]! : stored;
  const headers = versionHeaders(r);
  if (req.headers['if-none-match'] && headers.etag && req.headers['if-none-match'].replace(/^W\//, '') === headers.etag.replace(/^W\//, '')) {
    return { status: 304, headers };
  }
  return { status: 200, headers, body: subset(req, r) };
}

export async function vreadHandler(req: FhirRequest, ctx: FhirContext, type: string, id: string, vid: string): Promise<FhirResponse> {
  ctx.policy.assertAllowed(req.principal, type, 'vread');
  const r = await ctx.repo.vread(type, id, vid);
  if (!ctx.policy.canSee(req.principal, r)) throw notFound(`${type}/${id}`);
  return { status: 200, headers: versionHeaders(r), body: r };
}
