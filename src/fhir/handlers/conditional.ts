/**
 * The search behind a conditional create (`If-None-Exist`, a transaction entry's `request.ifNoneExist`): run as the
 * caller's own search, strictly, so that a condition can never find, return or reveal what the caller could not
 * find by searching, and a mistyped parameter is a 400 instead of matching everything.
 * @see https://hl7.org/fhir/R4/http.html#ccreate
 */
import type { FhirContext, FhirRequest } from '../types.js';
import type { Queryable } from '../../store/db.js';
import type { AnyResource } from '../../store/repository-types.js';
import { badRequest, fhirError } from '../outcomes.js';
import { runSearch } from '../search/execute.js';
import { callerSearchRequest } from './search.js';

/** Result parameters change what a search answers, not what it matches: they have no place in a condition. */
const NOT_A_CONDITION = ['_count', '_sort', '_include', '_revinclude', '_summary', '_elements', '_total', '_cursor', '_contained', '_containedType', '_format', '_pretty'];

/** Parses a condition (`identifier=x|y&status=z`, optionally after `Type?`) into search parameters. */
export function parseCondition(condition: string, what: string): Record<string, string[]> {
  const q: Record<string, string[]> = {};
  for (const [k, v] of new URLSearchParams(condition.replace(/^[^?]*\?/, ''))) (q[k] ??= []).push(v);
  if (Object.keys(q).length === 0) throw badRequest(`${what} must hold search parameters, e.g. identifier=system|value`);
  const resultParam = Object.keys(q).find((k) => NOT_A_CONDITION.includes(k.split(':')[0]!));
  if (resultParam) throw badRequest(`${what} may not hold the result parameter ${resultParam}`, resultParam);
  return q;
}

/**
 * The resources of `type` matching `condition` that the caller may see: none, one, or 412 when several do.
 * A condition that names what the caller may not search is refused as that search would be (401/403), and
 * matches the caller may not see count as no match, so the answer says nothing about other people's data.
 */
export async function conditionalMatch(req: FhirRequest, ctx: FhirContext, type: string, condition: string, tx: Queryable, what = 'If-None-Exist'): Promise<AnyResource | undefined> {
  const request = callerSearchRequest(req, ctx, type, { ...parseCondition(condition, what), _count: '2' }, { strict: true });
  const found = (await runSearch(tx, request)).resources.filter((r) => ctx.policy.canSee(req.principal, r));
  if (found.length > 1) throw fhirError('MULTIPLE_MATCHES', `${what} '${condition}' matched more than one ${type}`);
  return found[0];
}

/** A query (`req.query`) as the condition text conditionalMatch takes. */
export function conditionOf(query: FhirRequest['query']): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) for (const x of Array.isArray(v) ? v : [v]) p.append(k, x);
  return p.toString();
}

/** Where a conditional update (`PUT Type?query`) writes: the match's id, the body's own id, or a new resource. */
export type ConditionalUpdateTarget = { kind: 'update'; id: string } | { kind: 'create' };

/**
 * The R4 rules of conditional update: one match is updated (a body id, when given, must be the match's); no match
 * with a body id is an update-as-create of that id, unless a resource the condition did not match holds it already;
 * no match without an id is a create; several matches are 412 (conditionalMatch).
 * @see https://hl7.org/fhir/R4/http.html#cond-update
 */
export async function conditionalUpdateTarget(req: FhirRequest, ctx: FhirContext, type: string, condition: string, bodyId: unknown, tx: Queryable, what = 'Conditional update'): Promise<ConditionalUpdateTarget> {
  const match = await conditionalMatch(req, ctx, type, condition, tx, what);
  if (match) {
    if (bodyId !== undefined && bodyId !== match.id) {
      throw badRequest(`${what} '${condition}' matched ${type}/${String(match.id)}, but the resource carries id '${String(bodyId)}'`, `${type}.id`);
    }
    return { kind: 'update', id: String(match.id) };
  }
  if (bodyId === undefined) return { kind: 'create' };
  if (typeof bodyId !== 'string') throw badRequest(`${type}.id must be a string`, `${type}.id`);
  const holder = await ctx.repo.readOptional(type, bodyId, tx);
  if (holder) throw fhirError('VERSION_CONFLICT', `${what} '${condition}' matched nothing, but ${type}/${bodyId} exists and does not match it`, `${type}.id`);
  return { kind: 'update', id: bodyId };
}
