/**
 * The `X-Provenance` request header (FHIR R4, provenance.html#header): a client attaches a Provenance to a create or
 * update, and the server stores it with the written resource as its target, in the write's transaction. The hub reads
 * it on Appointment writes: its `reason` is how staff give the reason for a booking outside the fairness rules on a
 * plain POST/PUT (staff-write.ts). A header that is not JSON, not a Provenance, or whose `target` names something other
 * than this write is refused 400 naming the header. The target is left out on a create (the id is not known yet) and
 * may name `Appointment/<id>` (optionally `/_history/<v>`) on an update; the server sets it to the version written.
 * @see https://hl7.org/fhir/R4/provenance.html#header
 */
import type { Provenance, Reference } from 'fhir/r4';
import type { Principal } from '../../auth/principal.js';
import { fhirError, isOperationOutcomeError, type OperationOutcomeError } from '../../fhir/outcomes.js';
import { SUPPORTED_RESOURCE_TYPES } from '../../fhir/resource-types.js';
import { validateOrThrow } from '../../fhir/validation/index.js';
import type { AnyResource } from '../../store/repository-types.js';
import { cleanReason } from '../invitations/staff-standing.js';
import { X_PROVENANCE_HEADER } from './staff-override.js';

const HEADER = 'X-Provenance';
const PARTICIPANT = 'http://terminology.hl7.org/CodeSystem/provenance-participant-type';

function bad(why: string): OperationOutcomeError {
  return fhirError('BAD_REQUEST', `The ${HEADER} header ${why}`, HEADER);
}

/** The header's Provenance for this write, or undefined when none was sent; throws 400 when it is unusable. */
export function readXProvenance(headers: Record<string, string | undefined>, write: { interaction: 'create' | 'update'; type: string; id?: string }): Provenance | undefined {
  const raw = headers[X_PROVENANCE_HEADER];
  if (raw === undefined || raw.trim() === '') return undefined;
  let p: unknown;
  try {
    p = JSON.parse(raw);
  } catch {
    throw bad('must hold a Provenance resource as JSON (it does not parse)');
  }
  if (!p || typeof p !== 'object' || Array.isArray(p) || (p as { resourceType?: unknown }).resourceType !== 'Provenance') {
    throw bad("must hold a resource of type Provenance (resourceType 'Provenance')");
  }
  const prov = p as Provenance;
  if (prov.target !== undefined) {
    if (!Array.isArray(prov.target)) throw bad('target must be a list of references');
    const self = write.id ? new RegExp(`^${write.type}/${write.id}(/_history/[^/]+)?$`) : undefined;
    for (const t of prov.target) {
      if (!self) throw bad(`target must be left out on a create: the server sets it to the ${write.type} it writes`);
      if (!self.test(t?.reference ?? '')) throw bad(`target '${String(t?.reference)}' is not this write (${write.type}/${write.id})`);
    }
  }
  // Valid as it will be stored (target and recorded are the server's; the caller is added as an agent).
  const { id: _id, meta: _meta, ...rest } = prov;
  try {
    validateOrThrow({ ...rest, target: [{ reference: `${write.type}/${write.id ?? 'new'}` }], recorded: new Date().toISOString(), agent: [...(Array.isArray(prov.agent) ? prov.agent : []), { who: { display: 'caller' } }] }, {
      mode: 'create', supportedTypes: SUPPORTED_RESOURCE_TYPES, expectedType: 'Provenance',
    });
  } catch (e) {
    if (!isOperationOutcomeError(e)) throw e;
    throw bad(`holds an invalid Provenance: ${e.outcome.issue.map((i) => `${i.diagnostics ?? i.code}${i.expression?.length ? ` (${i.expression.join(', ')})` : ''}`).join('; ')}`);
  }
  return prov;
}

/**
 * The human reason the Provenance gives (its reasons' text, else their codings' display, else code), tidied as
 * cleanReason does: undefined when it gives none, 400 when it is shorter than a reason someone can later read.
 */
export function reasonOf(prov: Provenance | undefined): string | undefined {
  const words = (prov?.reason ?? [])
    .map((r) => r?.text?.trim() || (r?.coding ?? []).map((c) => c?.display?.trim() || c?.code?.trim() || '').filter(Boolean).join('; '))
    .filter(Boolean)
    .join('; ');
  return cleanReason(words || undefined, `${HEADER}: Provenance.reason`);
}

/** The agent the server vouches for: the authenticated caller, whatever the header claims. */
function callerAgent(principal: Principal): Provenance['agent'][number] {
  const who: Reference = principal.fhirUser ? { reference: principal.fhirUser } : { display: principal.kind === 'admin' ? 'operator' : principal.clientId ?? principal.kind };
  return { type: { coding: [{ system: PARTICIPANT, code: 'author', display: 'Author' }] }, who };
}

/** The Provenance to store with the written resource: the header's, targeting the version written, `recorded` now. */
export function provenanceToStore(prov: Provenance, written: AnyResource, principal: Principal, now: Date): AnyResource {
  const { id: _id, meta: _meta, ...rest } = prov;
  const agents = (prov.agent ?? []).filter((a) => a?.who);
  const caller = callerAgent(principal);
  const named = agents.some((a) => a.who.reference !== undefined && a.who.reference === caller.who.reference);
  const stored: Provenance = {
    ...rest,
    target: [{ reference: `${written.resourceType}/${String(written.id)}/_history/${(written.meta as { versionId?: string } | undefined)?.versionId ?? '1'}` }],
    recorded: now.toISOString(),
    agent: named ? agents : [...agents, caller],
  };
  return stored as unknown as AnyResource;
}
