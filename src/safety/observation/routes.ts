/**
 * The clinic's check-out API (operators: the hub's staff accounts hold that role; see src/auth/staff.ts):
 *   GET  /clinic/observation?location=ID         people waiting, in the order they may leave, with names
 *   POST /clinic/observation/:immunizationId/look       someone looked at the person (all well)
 *   POST /clinic/observation/:immunizationId/check-out  they left
 *   POST /clinic/observation/:immunizationId/reaction   {symptom, text?, serious?}: the two-tap record, an
 *        AdverseEvent written through the FHIR router as the caller (its rules, the dose's reactions, the registry's
 *        VXU and the operators' alert all follow from that write)
 */
import express, { type RequestHandler, type Router } from 'express';
import type { AdverseEvent, Patient } from 'fhir/r4';
import type { Db } from '../../store/db.js';
import type { AnyResource, Repository } from '../../store/repository-types.js';
import type { FhirContext } from '../../fhir/types.js';
import type { Principal } from '../../auth/principal.js';
import { dispatch } from '../../fhir/router.js';
import { badRequest, fhirError } from '../../fhir/outcomes.js';
import type { ProductCatalogue } from '../../scheduling/products.js';
import { buildAdverseEvent } from '../adverse-event.js';
import { symptomByCode } from '../symptoms.js';
import { checkOut, listWaiting, noteReaction, readWait, recordLook } from './wait.js';

export interface ObservationRouteDeps {
  db: Db;
  repo: Repository;
  fhir: FhirContext;
  fhirBaseUrl: string;
  products: ProductCatalogue;
  requireAdmin: RequestHandler;
  /** How often staff should look at each person (the rules' lookEveryMinutes), for the view's words. */
  lookEveryMinutes: number;
  clock?: () => Date;
}

const whoActed = (p: Principal): string => p.fhirUser ?? 'operator-token';

function displayName(p: Patient | undefined): string {
  const n = p?.name?.[0];
  return n ? [...(n.given ?? []), n.family].filter(Boolean).join(' ') || n.text || '' : '';
}

export function createObservationRouter(d: ObservationRouteDeps): Router {
  const clock = d.clock ?? (() => new Date());
  const router = express.Router();
  const json = express.json({ limit: '8kb' });

  router.get('/clinic/observation', d.requireAdmin, (req, res, next) => {
    const location = typeof req.query.location === 'string' && req.query.location ? req.query.location : undefined;
    void (async () => {
      const now = clock();
      const people = await listWaiting(d.db, now, location);
      const ids = [...new Set(people.map((p) => p.patientId))];
      const patients = new Map<string, Patient>();
      if (ids.length) {
        const found = await d.repo.search('Patient', { _id: ids.join(','), _count: String(ids.length) });
        for (const p of found.resources) patients.set(p.id!, p as unknown as Patient);
      }
      res.set('Cache-Control', 'no-store').json({
        now: now.toISOString(),
        lookEveryMinutes: d.lookEveryMinutes,
        people: people.map((p) => ({
          ...p,
          name: displayName(patients.get(p.patientId)),
          birthDate: patients.get(p.patientId)?.birthDate ?? null,
          productName: p.productCvx ? (d.products.get(p.productCvx)?.name ?? `CVX ${p.productCvx}`) : null,
        })),
      });
    })().catch(next);
  });

  const simple = (path: string, act: (db: Db, id: string, by: string, now: Date) => Promise<boolean>): void => {
    router.post(path, d.requireAdmin, (req, res, next) => {
      const id = String(req.params.immunizationId);
      act(d.db, id, whoActed(res.locals.principal as Principal), clock()).then((done) => {
        if (!done) return next(fhirError('NOT_FOUND', `Nobody is waiting after Immunization/${id}`));
        res.json({ ok: true });
      }, next);
    });
  };
  simple('/clinic/observation/:immunizationId/look', recordLook);
  simple('/clinic/observation/:immunizationId/check-out', checkOut);

  router.post('/clinic/observation/:immunizationId/reaction', d.requireAdmin, json, (req, res, next) => {
    void (async () => {
      const id = String(req.params.immunizationId);
      const body = (req.body ?? {}) as { symptom?: unknown; text?: unknown; serious?: unknown };
      const symptom = typeof body.symptom === 'string' ? symptomByCode(body.symptom) : undefined;
      if (!symptom) throw badRequest(`symptom must be a code of CodeSystem reaction-symptom (e.g. 'fainting')`, 'symptom');
      if (body.text !== undefined && (typeof body.text !== 'string' || body.text.length > 2000)) throw badRequest('text must be at most 2000 characters', 'text');
      const now = clock();
      const wait = await readWait(d.db, id, now);
      if (!wait) throw fhirError('NOT_FOUND', `Nobody is waiting after Immunization/${id}`);
      const principal = res.locals.principal as Principal;
      // Alarming signs seen at the clinic (anaphylaxis, collapse, a seizure) are serious until a clinician says otherwise.
      const serious = typeof body.serious === 'boolean' ? body.serious : symptom.alarming === true;
      const ae = buildAdverseEvent({
        patientId: wait.patientId,
        immunizationId: id,
        symptoms: [symptom.code],
        ...(typeof body.text === 'string' ? { text: body.text } : {}),
        seriousness: serious ? 'Serious' : 'Non-serious',
        outcome: 'ongoing',
        onset: now.toISOString(),
        recordedAt: now.toISOString(),
        locationId: wait.locationId,
        ...(principal.fhirUser?.startsWith('Practitioner/') ? { recorder: principal.fhirUser } : {}),
      });
      const out = await dispatch({ method: 'POST', path: 'AdverseEvent', query: {}, body: ae, headers: { 'content-type': 'application/fhir+json' }, principal, baseUrl: d.fhirBaseUrl }, d.fhir);
      const created = out.body as AdverseEvent & AnyResource;
      await noteReaction(d.db, id, created.id!, whoActed(principal), now);
      res.status(201).json({ adverseEvent: created });
    })().catch(next);
  });
  return router;
}
