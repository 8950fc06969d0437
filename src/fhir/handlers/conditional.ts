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
