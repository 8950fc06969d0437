/**
 * The booking gate inside the FHIR layer, where every path to a booking ends up (HTTP, batch and transaction
 * entries): `$hold` and `$book` are wrapped, and an Appointment write interceptor covers POST/PUT Appointment.
 * With a ticket, the booking is for the ticket's person; `$book` and a booked write mark the ticket used in the
 * booking's own transaction. Staff keep to the same fairness rules, or give a reason that is audited: `$book`/`$hold`
 * with `override-reason` (staff-book.ts), a write with an `X-Provenance` header (staff-write.ts); a batch or
 * transaction's entries are written under the outer request's X-Provenance.
 */
import type { Appointment } from 'fhir/r4';
import type { FhirContext, FhirRequest, FhirResponse, OperationDefinition, WriteInterceptor } from '../../fhir/types.js';
import { badRequest, fhirError } from '../../fhir/outcomes.js';
import type { Queryable } from '../../store/db.js';
import type { AnyResource, Repository } from '../../store/repository-types.js';
import { idFromReference, patientIdOf, slotIdOf } from '../appointment-resource.js';
import type { WithBookingWork } from '../booking.js';
import { hasStoredAnswer, IDEMPOTENT_REPLAY_LOCAL, retryCallerOf } from '../idempotency.js';
import { paramResource, paramValue, paramValues } from '../operations/params.js';
import { proposalSlotId } from '../operations/appointment-find.js';
import { CLAIM_TOKEN_HEADER, rememberedGatePass, type BookingGate, type GatePass } from './booking-gate.js';
import { hasStaffAuthority } from '../invitations/waves.js';
import { staffBookOrHold } from './staff-book.js';
import { isStaffWriter, staffTakesPlace, staffWrite, type AfterWrite } from './staff-write.js';
import { provenanceToStore, readXProvenance } from './x-provenance.js';

async function patientOfAppointment(ctx: FhirContext, ref: string | undefined): Promise<string | undefined> {
  const id = ref ? idFromReference(ref, 'Appointment') : undefined;
  if (!id) return undefined;
  const a = (await ctx.repo.readOptional<AnyResource>('Appointment', id)) as unknown as Appointment | undefined;
  return a ? patientIdOf(a) : undefined;
}

/** Every Patient a `$hold`/`$book` request names, by any of its parameters (all must be the ticket's person). */
export async function patientsNamed(req: FhirRequest, ctx: FhirContext, op: 'hold' | 'book'): Promise<string[]> {
  const out: Array<string | undefined> = [];
  const apptResource = paramResource<Appointment>(req, 'appt-resource', 'Appointment');
  if (apptResource) out.push(patientIdOf(apptResource));
  if (op === 'book') {
    for (const p of paramValues(req, 'patient-id')) {
      const id = idFromReference(p, 'Patient');
      if (!id) throw badRequest('patient-id must be a Patient reference', 'patient-id');
      out.push(id);
    }
    out.push(paramResource(req, 'patient-resource', 'Patient')?.id);
    const apptId = paramValue(req, 'appt-id');
    if (apptId && !proposalSlotId(apptId)) out.push(await patientOfAppointment(ctx, apptId));
    out.push(await patientOfAppointment(ctx, paramValue(req, 'cancelled-appt-id')));
  }
  return [...new Set(out.filter((x): x is string => !!x))];
}

const MOVABLE = new Set(['pending', 'booked']);

/**
 * A person moving their own active booking (`$book` with `cancelled-appt-id`) already went through the gate
 * when they booked it; their invitation is used, so they pass on the strength of the booking they give up.
 */
export async function isOwnReschedule(q: Queryable, principal: { patientId?: string }, cancelledApptRef: string | undefined): Promise<boolean> {
  const id = cancelledApptRef ? idFromReference(cancelledApptRef, 'Appointment') : undefined;
  if (!id || !principal.patientId) return false;
  const r = await q.query<{ content: Appointment }>("SELECT content FROM fhir_resource WHERE resource_type = 'Appointment' AND id = $1 AND NOT deleted", [id]);
  const appt = r.rows[0]?.content;
  return !!appt && MOVABLE.has(appt.status) && patientIdOf(appt) === principal.patientId;
}

function wrapOperation(op: OperationDefinition, gate: BookingGate): OperationDefinition {
  const name = op.name as 'hold' | 'book';
  const what = `Appointment/$${name}`;
  return {
    ...op,
    // The gate is this operation's access rule: staff authority (scopes checked there) or a claimed ticket,
    // which an anonymous caller may hold. The SMART policy still applies to everything else.
    access: gate.enabled ? 'public' : op.access,
    async handler(req, ctx): Promise<FhirResponse> {
      if (!gate.enabled) return op.handler(req, ctx);
      const key = req.headers['idempotency-key'];
      // The admission gate in front may have looked the key up already (IDEMPOTENT_REPLAY_LOCAL in its locals).
      if (key && (req.locals?.[IDEMPOTENT_REPLAY_LOCAL] === true || (await hasStoredAnswer(ctx.db, key, retryCallerOf(req.principal, req.headers[CLAIM_TOKEN_HEADER]))))) {
        // A retry of a request already answered gets that answer, whatever the gate says now (its invitation is used
        // up by the booking it made). The operation only replays (IDEMPOTENT_REPLAY_LOCAL): it books nothing.
        return op.handler({ ...req, locals: { ...req.locals, [IDEMPOTENT_REPLAY_LOCAL]: true } }, ctx);
      }
      const named = await patientsNamed(req, ctx, name);
      if (name === 'book' && named.every((p) => p === req.principal.patientId) && (await isOwnReschedule(ctx.db, req.principal, paramValue(req, 'cancelled-appt-id')))) {
        return op.handler(req, ctx);
      }
      const pass: GatePass =
        rememberedGatePass(req.locals, req.headers[CLAIM_TOKEN_HEADER]) ??
        (await gate.check(ctx.db, { headers: req.headers, principal: req.principal, patientId: named[0], what }));
      // Staff book and hold under the public's rules, or outside them with an audited reason (staff-book.ts).
      if (pass.via === 'staff') return staffBookOrHold(op, gate, req, ctx, named);
      if (pass.via !== 'ticket') return op.handler(req, ctx);
      if (named.some((p) => p !== pass.patientId)) {
        throw gate.refuse(fhirError('INVITATION_INVALID', 'This invitation belongs to another person', 'patient-id'), { principal: req.principal, what, ticketRef: pass.ticketRef });
      }
      // The booking is for the ticket's person even when the request names nobody.
      const asHolder: FhirRequest = { ...req, principal: { ...req.principal, patientId: pass.patientId } };
      if (name === 'hold') return op.handler(asHolder, ctx);
      // The invitation is consumed, and the confirmation queued, in the booking's own transaction (see onBooked).
      const withWork: WithBookingWork<FhirContext> = { ...ctx, onBooked: (tx, appt) => gate.onTicketBooked(tx, pass, appt, { principal: req.principal, what }) };
      return op.handler(asHolder, withWork);
    },
  };
}

/** Replaces `$hold` and `$book` in the operation table with gated versions (call after wireScheduling). */
export function gateBookingOperations(operations: OperationDefinition[], gate: BookingGate): void {
  for (let i = 0; i < operations.length; i++) {
    const op = operations[i]!;
    if ((op.name === 'hold' || op.name === 'book') && op.resourceTypes.includes('Appointment')) operations[i] = wrapOperation(op, gate);
  }
  const gated = operations.filter((o) => o.resourceTypes.includes('Appointment') && (o.name === 'hold' || o.name === 'book')).length;
  if (gated !== 2) throw new TypeError('gateBookingOperations: $hold and $book must be registered first (wireScheduling)');
}

const ACTIVE = new Set(['proposed', 'pending', 'booked', 'arrived', 'checked-in', 'waitlist']);

/** Whether this write creates or changes a booking (rather than cancelling one or editing its text). */
function takesPlace(appt: Appointment, previous: Appointment | undefined): boolean {
  if (!ACTIVE.has(appt.status)) return false;
  if (!previous || !ACTIVE.has(previous.status)) return true;
  return slotIdOf(previous) !== slotIdOf(appt) || patientIdOf(previous) !== patientIdOf(appt) || (previous.status === 'pending' && appt.status !== 'pending');
}

/**
 * POST/PUT Appointment: the gate, in the write's transaction; a booked write with a ticket consumes it there, and
 * the confirmation is queued after the write (when a created Appointment has its id). Staff writes meet the fairness
 * rules (staff-write.ts). An X-Provenance header is read on every Appointment write (400 when unusable) and its
 * Provenance stored with the version written, as FHIR's provenance.html#header describes.
 */
export function bookingGateInterceptor(gate: BookingGate, repo: Repository): WriteInterceptor {
  // The work for the write in progress in a transaction; cleared by every beforeWrite, so none outlives its write.
  const pending = new WeakMap<Queryable, AfterWrite[]>();
  return {
    resourceType: 'Appointment',
    async beforeWrite(tx, { interaction, resource, previous, principal, headers }) {
      pending.delete(tx);
      if (!gate.enabled || interaction === 'delete' || !resource) return;
      const appt = resource as unknown as Appointment;
      const before = previous as unknown as Appointment | undefined;
      const provenance = readXProvenance(headers, { interaction, type: 'Appointment', ...(interaction === 'update' ? { id: String(resource.id) } : {}) });
      // The hub stores what the header says with the record: it takes that from staff and backend systems only.
      if (provenance && !hasStaffAuthority(principal)) throw fhirError('FORBIDDEN', 'Only staff and backend systems may attach a Provenance (X-Provenance) to a write', 'X-Provenance');
      const work: AfterWrite[] = [];
      if (provenance) work.push(async (t, written) => void (await repo.create(provenanceToStore(provenance, written as unknown as AnyResource, principal, gate.clock()), { tx: t })));
      let toStore: Appointment | undefined;
      if (takesPlace(appt, before)) {
        const what = interaction === 'create' ? 'Appointment (create)' : `Appointment/${String(resource.id)} (update)`;
        const pass: GatePass = await gate.check(tx, { headers, principal, patientId: patientIdOf(appt), what });
        if (pass.via === 'staff' && isStaffWriter(principal) && staffTakesPlace(appt, before)) {
          const staffWork = await staffWrite(gate, tx, { appt, previous: before, principal, what, ...(provenance ? { provenance } : {}) });
          if (staffWork) work.unshift(staffWork);
        } else if (pass.via === 'ticket') {
          toStore = patientIdOf(appt)
            ? appt
            : { ...appt, participant: [...(appt.participant ?? []), { actor: { reference: `Patient/${pass.patientId}` }, status: 'accepted' }] };
          if (toStore.status === 'booked') {
            const person = await gate.consumeTicket(tx, pass, { principal, what });
            work.unshift((t, written) => gate.queueBookingMails(t, pass, written, person));
          }
        }
      }
      if (work.length) pending.set(tx, work);
      return toStore as unknown as AnyResource | undefined;
    },
    async afterWrite(tx, { resource }) {
      const work = pending.get(tx);
      pending.delete(tx);
      if (!work || !resource) return;
      for (const w of work) await w(tx, resource as unknown as Appointment);
    },
  };
}
