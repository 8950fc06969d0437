/**
 * The clinic day's FHIR operations, operator authority only (a staff member signed in with `vaxhub/operator`, or
 * the operator token); the FHIR layer audits each request naming the staff member's Practitioner:
 *   POST Appointment/[id]/$record-dose      lot, site, route, performer?, vis-published?, dose-ml?, note?, follow-up?
 *                                           -> 201 the Immunization (./record-dose.ts)
 *   POST Appointment/[id]/$no-show          -> the Appointment (noshow) and where the freed place went
 *   POST Appointment/[id]/$undo-no-show     -> the Appointment (booked again)
 *   POST Immunization/[id]/$correct         reason, lot?, site?, route?, performer?, vis-published?
 *   POST Immunization/[id]/$entered-in-error reason, restock?   (./correct-dose.ts)
 * Input is a Parameters body (or query parameters), as FHIR operations take it.
 */
import type { Parameters } from 'fhir/r4';
import { badRequest, fhirError } from '../fhir/outcomes.js';
import type { FhirRequest, FhirResponse, OperationDefinition } from '../fhir/types.js';
import { versionHeaders } from '../fhir/handlers/http-meta.js';
import { paramValue } from '../scheduling/operations/params.js';
import type { AnyResource, Repository } from '../store/repository-types.js';
import type { Db } from '../store/db.js';
import { correctClinicDose, markDoseEnteredInError } from './correct-dose.js';
import { markNoShow, undoNoShow, type NoShowDeps } from './no-show.js';
import { recordDoseAtClinic, type RecordDoseDeps } from './record-dose.js';

function resourceAnswer(r: AnyResource, status = 200): FhirResponse {
  return { status, body: r, headers: { ...versionHeaders(r), 'content-type': 'application/fhir+json' } };
}

function operatorOnly(req: FhirRequest, name: string): void {
  if (req.principal.kind !== 'admin') throw fhirError('FORBIDDEN', `$${name} needs operator authority (staff signed in with vaxhub/operator)`);
}

function optionalNumber(req: FhirRequest, name: string): number | undefined {
  const v = paramValue(req, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw badRequest(`${name} must be a number`, name);
  return n;
}

function optionalBoolean(req: FhirRequest, name: string): boolean {
  return maybeBoolean(req, name) ?? false;
}

function maybeBoolean(req: FhirRequest, name: string): boolean | undefined {
  const v = paramValue(req, name);
  if (v === undefined) return undefined;
  if (v !== 'true' && v !== 'false') throw badRequest(`${name} must be true or false`, name);
  return v === 'true';
}

function instance(name: string, type: 'Appointment' | 'Immunization', handler: OperationDefinition['handler']): OperationDefinition {
  return {
    name,
    resourceTypes: [type],
    levels: ['instance'],
    methods: ['POST'],
    access: 'operator',
    async handler(req, ctx) {
      operatorOnly(req, name);
      if (!req.id) throw badRequest(`$${name} is an instance operation: ${type}/[id]/$${name}`);
      return handler(req, ctx);
    },
  };
}

export function clinicOperations(deps: RecordDoseDeps): OperationDefinition[] {
  const now = (): Date => (deps.clock ?? deps.scheduling.clock ?? (() => new Date()))();
  const noShowDeps = (ctx: { db: Db; repo: Repository }): NoShowDeps => ({ db: ctx.db, repo: ctx.repo, timeZone: deps.timeZone, clock: now });
  return [
    instance('record-dose', 'Appointment', async (req, ctx) => {
      const dml = optionalNumber(req, 'dose-ml');
      const performer = paramValue(req, 'performer');
      const vis = paramValue(req, 'vis-published');
      const note = paramValue(req, 'note');
      const followUp = maybeBoolean(req, 'follow-up');
      const imm = await recordDoseAtClinic(deps, ctx, req.principal, {
        appointmentId: req.id!,
        inventoryId: paramValue(req, 'lot') ?? '',
        site: paramValue(req, 'site') ?? '',
        route: paramValue(req, 'route') ?? '',
        ...(performer ? { performerId: performer.replace(/^Practitioner\//, '') } : {}),
        ...(vis ? { visPublished: vis } : {}),
        ...(dml !== undefined ? { doseMl: dml } : {}),
        ...(note ? { note } : {}),
        ...(followUp !== undefined ? { followUp } : {}),
      });
      const answer = resourceAnswer(imm, 201);
      return { ...answer, headers: { ...answer.headers, location: `${req.baseUrl}/Immunization/${imm.id}/_history/${imm.meta?.versionId ?? '1'}` } };
    }),
    instance('no-show', 'Appointment', async (req, ctx) => {
      const r = await markNoShow(noShowDeps(ctx), req.id!, req.principal);
      const body: Parameters = {
        resourceType: 'Parameters',
        parameter: [
          { name: 'appointment', resource: r.appointment },
          ...(r.movedToSlotId ? [{ name: 'freed-place', valueReference: { reference: `Slot/${r.movedToSlotId}` } }] : []),
        ],
      };
      return { status: 200, body, headers: { 'content-type': 'application/fhir+json' } };
    }),
    instance('undo-no-show', 'Appointment', async (req, ctx) => resourceAnswer(await undoNoShow(noShowDeps(ctx), req.id!))),
    instance('correct', 'Immunization', async (req, ctx) => {
      const performer = paramValue(req, 'performer');
      const lot = paramValue(req, 'lot');
      const site = paramValue(req, 'site');
      const route = paramValue(req, 'route');
      const vis = paramValue(req, 'vis-published');
      return resourceAnswer(await correctClinicDose(ctx, req.principal, req.id!, {
        reason: paramValue(req, 'reason') ?? '',
        ...(lot ? { inventoryId: lot } : {}),
        ...(site ? { site } : {}),
        ...(route ? { route } : {}),
        ...(performer ? { performerId: performer.replace(/^Practitioner\//, '') } : {}),
        ...(vis ? { visPublished: vis } : {}),
      }, now()));
    }),
    instance('entered-in-error', 'Immunization', async (req, ctx) =>
      resourceAnswer(await markDoseEnteredInError(ctx, req.principal, req.id!, { reason: paramValue(req, 'reason') ?? '', restock: optionalBoolean(req, 'restock') }, now()))),
  ];
}
