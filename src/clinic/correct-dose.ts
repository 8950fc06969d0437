/**
 * Putting a clinic's wrong dose record right, in one transaction each, through the Immunization write hooks:
 *  - correct: another lot, site, route, vaccinator or VIS edition. The registry gets the update (VXU action U);
 *    a lot change moves the dose between the two lots' shelves (the recorded lot gets its dose back, the lot really
 *    used loses one, never one reserved for someone else).
 *  - entered-in-error: the record should not exist (wrong person, duplicate). The registry gets the delete (RXA-21
 *    D, the CDC IG's way to withdraw a reported dose). With `restock` (the dose was not given after all) the dose
 *    goes back on its lot's shelf, reserved again for the appointment, which is open again (checked in) so the
 *    right dose can be recorded.
 * Each writes a Provenance naming the staff member and the version it replaced; the FHIR layer audits the request.
 * @see https://repository.immregistries.org/files/resources/5835adc2add61/hl7guiderelease1.5_2014-11-01_updated_2018-10-18.pdf
 */
import type { Appointment, Immunization, Practitioner, Provenance } from 'fhir/r4';
import type { Principal } from '../auth/principal.js';
import { badRequest, fhirError } from '../fhir/outcomes.js';
import type { FhirContext } from '../fhir/types.js';
import type { Queryable } from '../store/db.js';
import type { AnyResource } from '../store/repository-types.js';
import { fhirCalendarDay } from '../fhir/dates.js';
import { idFromReference } from '../scheduling/appointment-resource.js';
import { EXT_FROM_APPOINTMENT } from '../scheduling/write-hooks.js';
import { isVouchedFor } from '../records/dose-trust.js';
import { ROUTES, ROUTES_TABLE, SITES, SITES_TABLE, codingOf } from './codes.js';
import { usableLots } from './lots.js';
import { CVX_SYSTEM } from './record-dose.js';
import { writeThroughHooks } from './write-hooks.js';

type Imm = Immunization & AnyResource;

export interface DoseCorrection {
  inventoryId?: string;
  site?: string;
  route?: string;
  performerId?: string;
  visPublished?: string;
  reason: string;
}

function cvxOf(imm: Immunization): string | undefined {
  return imm.vaccineCode?.coding?.find((c) => c.system === CVX_SYSTEM)?.code;
}

function locationOf(imm: Immunization): string | undefined {
  return idFromReference(imm.location?.reference, 'Location');
}

/** The inventory row a recorded dose came from: same clinic, product and lot number. */
async function lotRowOf(tx: Queryable, imm: Immunization): Promise<{ id: string } | undefined> {
  const loc = locationOf(imm);
  const cvx = cvxOf(imm);
  if (!loc || !cvx || !imm.lotNumber) return undefined;
  const r = await tx.query<{ id: string }>(
    `SELECT id FROM inventory WHERE location_id = $1 AND product_cvx = $2 AND lot = $3 ORDER BY available_from NULLS FIRST, id LIMIT 1 FOR UPDATE`,
    [loc, cvx, imm.lotNumber],
  );
  return r.rows[0];
}

/** Whether staff may correct or withdraw this record here: a dose given here (vouched for), not already withdrawn. */
export function isCorrectableDose(imm: Immunization): boolean {
  return imm.status !== 'entered-in-error' && imm.primarySource !== false && isVouchedFor(imm as Imm);
}

async function readClinicDose(ctx: Pick<FhirContext, 'repo'>, tx: Queryable, id: string): Promise<Imm> {
  const imm = await ctx.repo.read<Imm>('Immunization', id, tx, { forUpdate: true });
  if (imm.status === 'entered-in-error') throw fhirError('APPOINTMENT_STATE', `Immunization/${id} is already entered-in-error`, 'Immunization.status');
  if (imm.primarySource === false || !isVouchedFor(imm)) {
    throw badRequest(`Immunization/${id} is a historical or patient-reported record, not a dose given here; edit it as a record instead`, 'Immunization.primarySource');
  }
  return imm;
}

function revisionProvenance(principal: Principal, stored: Imm, previous: Imm, activity: 'UPDATE' | 'NULLIFY', reason: string, at: Date): Provenance {
  const staff = /^(Practitioner|PractitionerRole)\//.test(principal.fhirUser ?? '') ? principal.fhirUser : undefined;
  return {
    resourceType: 'Provenance',
    target: [{ reference: `Immunization/${stored.id}/_history/${stored.meta?.versionId ?? '1'}` }],
    recorded: at.toISOString(),
    activity: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation', code: activity }] },
    reason: [{ text: reason }],
    agent: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type', code: 'author', display: 'Author' }] }, who: staff ? { reference: staff } : { display: 'operator (ADMIN_TOKEN)' } }],
    entity: [{ role: 'revision', what: { reference: `Immunization/${previous.id}/_history/${previous.meta?.versionId ?? '1'}` } }],
  };
}

function checkReason(reason: string | undefined): string {
  const r = (reason ?? '').trim();
  if (!r) throw badRequest('reason is required: say what was wrong', 'reason');
  if (r.length > 500) throw badRequest('reason is limited to 500 characters', 'reason');
  return r;
}

/** Corrects a clinic dose's details; answers the new version. */
export async function correctClinicDose(
  ctx: Pick<FhirContext, 'db' | 'repo' | 'interceptors'>, principal: Principal, id: string, c: DoseCorrection, at: Date,
): Promise<Imm> {
  const reason = checkReason(c.reason);
  if (c.site !== undefined && !SITES[c.site]) throw badRequest(`site must be one of ${Object.keys(SITES).join(', ')}`, 'site');
  if (c.route !== undefined && !ROUTES[c.route]) throw badRequest(`route must be one of ${Object.keys(ROUTES).join(', ')}`, 'route');
  if (c.visPublished !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(c.visPublished)) throw badRequest('vis-published must be a date (YYYY-MM-DD)', 'vis-published');
  if (c.inventoryId === undefined && c.site === undefined && c.route === undefined && c.performerId === undefined && c.visPublished === undefined) {
    throw badRequest('nothing to correct: give lot, site, route, performer or vis-published');
  }
  return ctx.db.transaction(async (tx) => {
    const previous = await readClinicDose(ctx, tx, id);
    const next: Imm = { ...previous };
    if (c.inventoryId !== undefined) {
      const loc = locationOf(previous);
      const cvx = cvxOf(previous);
      const day = fhirCalendarDay(previous.occurrenceDateTime);
      if (!loc || !cvx || !day) throw badRequest(`Immunization/${id} names no clinic, product or day to find lots for`, 'lot');
      const old = await lotRowOf(tx, previous);
      if (c.inventoryId !== old?.id) {
        const lot = (await usableLots(tx, loc, cvx, day, new Date(previous.occurrenceDateTime!))).find((l) => l.inventoryId === c.inventoryId);
        if (!lot) throw fhirError('LOT_UNUSABLE', `Lot ${c.inventoryId} was not usable at Location/${loc} for CVX ${cvx} on ${day}`, 'lot');
        const took = await tx.query(`UPDATE inventory SET on_hand = on_hand - 1, updated_at = $2 WHERE id = $1 AND on_hand > reserved`, [lot.inventoryId, at.toISOString()]);
        if (took.rowCount === 0) throw fhirError('LOT_UNUSABLE', `Lot ${lot.lot} has no unreserved dose left`, 'lot');
        if (old) await tx.query(`UPDATE inventory SET on_hand = on_hand + 1, updated_at = $2 WHERE id = $1`, [old.id, at.toISOString()]);
        next.lotNumber = lot.lot;
        if (lot.expiresOn) next.expirationDate = lot.expiresOn;
        else delete next.expirationDate;
      }
    }
    if (c.site !== undefined) next.site = { coding: [codingOf(SITES_TABLE, c.site)] };
    if (c.route !== undefined) next.route = { coding: [codingOf(ROUTES_TABLE, c.route)] };
    if (c.performerId !== undefined) {
      if (!(await ctx.repo.readOptional<Practitioner & AnyResource>('Practitioner', c.performerId, tx))) throw badRequest(`Practitioner/${c.performerId} is not known here`, 'performer');
      const others = (previous.performer ?? []).filter((p) => !p.function?.coding?.some((x) => x.code === 'AP'));
      next.performer = [
        { function: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0443', code: 'AP', display: 'Administering Provider' }] }, actor: { reference: `Practitioner/${c.performerId}` } },
        ...others,
      ];
    }
    if (c.visPublished !== undefined) {
      const presented = previous.education?.[0]?.presentationDate ?? fhirCalendarDay(previous.occurrenceDateTime);
      next.education = [{ documentType: cvxOf(previous), publicationDate: c.visPublished, ...(presented ? { presentationDate: presented } : {}) }];
    }
    const stored = await writeThroughHooks(ctx, tx, principal, 'update', next, previous);
    await ctx.repo.create(revisionProvenance(principal, stored, previous, 'UPDATE', reason, at) as unknown as AnyResource, { tx });
    return stored;
  });
}

/** Marks a clinic dose entered-in-error; `restock` when the dose was not given (it goes back to the shelf). */
export async function markDoseEnteredInError(
  ctx: Pick<FhirContext, 'db' | 'repo' | 'interceptors'>, principal: Principal, id: string, opts: { restock: boolean; reason: string }, at: Date,
): Promise<Imm> {
  const reason = checkReason(opts.reason);
  return ctx.db.transaction(async (tx) => {
    const previous = await readClinicDose(ctx, tx, id);
    const next: Imm = { ...previous, status: 'entered-in-error', note: [...(previous.note ?? []), { text: `Entered in error: ${reason}`, time: at.toISOString() }] };
    const stored = await writeThroughHooks(ctx, tx, principal, 'update', next, previous);
    if (opts.restock) {
      const lot = await lotRowOf(tx, previous);
      const apptId = idFromReference(previous.extension?.find((e) => e.url === EXT_FROM_APPOINTMENT)?.valueReference?.reference, 'Appointment');
      const booking = apptId
        ? (await tx.query<{ appointment_id: string }>(`SELECT appointment_id FROM booking WHERE appointment_id = $1 AND status = 'fulfilled' AND active FOR UPDATE`, [apptId])).rows[0]
        : undefined;
      if (lot) {
        // Back on the shelf; reserved again for the appointment it was meant for, which reopens.
        await tx.query(`UPDATE inventory SET on_hand = on_hand + 1, reserved = reserved + $2, updated_at = $3 WHERE id = $1`, [lot.id, booking ? 1 : 0, at.toISOString()]);
      }
      if (booking && apptId) {
        await tx.query(`UPDATE booking SET status = 'checked-in', inventory_id = COALESCE($2, inventory_id), updated_at = $3 WHERE appointment_id = $1`, [apptId, lot?.id ?? null, at.toISOString()]);
        const appt = await ctx.repo.readOptional<Appointment & AnyResource>('Appointment', apptId, tx);
        if (appt && appt.status === 'fulfilled') await ctx.repo.update({ ...appt, status: 'checked-in' }, { tx });
      }
    }
    await ctx.repo.create(revisionProvenance(principal, stored, previous, 'NULLIFY', reason, at) as unknown as AnyResource, { tx });
    return stored;
  });
}
