/**
 * The clinic day's operator routes (operators only; every change audited by requireAdmin, naming the staff member,
 * with the clinic and day in the path it records; the day's list, read or downloaded, audited with the people on it):
 *   GET  /admin/clinic/locations                               clinics with slots, and their schedules
 *   GET  /admin/clinic/locations/:id/days/:day[?format=csv]    the day's list (./day-list.ts)
 *   GET  /admin/clinic/locations/:id/days/:day/slots           the day's slots and places
 *   POST /admin/clinic/locations/:id/days/:day/closure         close the day, or the days from it to `to` (included,
 *                                                              at most 31) {reason, note?, offerHours?, to?}
 *   PUT  /admin/clinic/schedules/:id/days/:day                 hours {hours, slotMinutes, capacity}
 *   PUT  /admin/clinic/slots/:id                               places {capacity}
 *   GET  /admin/clinic/appointments/:id/dose-form              what recording the dose offers: today's usable
 *                                                              lots, vaccinators, sites, routes
 *   GET  /admin/clinic/immunizations/:id/correction-form       what correcting a recorded dose offers: the dose as
 *                                                              recorded, the lots usable that day at its clinic,
 *                                                              vaccinators, sites, routes ($correct, $entered-in-error)
 * The dose itself and no-shows are FHIR operations (./operations.ts).
 */
import express, { type RequestHandler, type Router } from 'express';
import type { Appointment, Immunization, Location, Patient, Practitioner } from 'fhir/r4';
import { badRequest, notFound } from '../fhir/outcomes.js';
import type { AuditInput } from '../auth/audit.js';
import { auditWho } from '../auth/fhir-audit.js';
import type { Principal } from '../auth/principal.js';
import type { AnyResource } from '../store/repository-types.js';
import { clinicTimeZone } from '../notify/mail-locale.js';
import { CLOSURE_REASONS, type ClosureReason } from '../notify/public-mail.js';
import { readBooking } from '../scheduling/person-dose.js';
import type { ProductCatalogue } from '../scheduling/products.js';
import { fhirCalendarDay } from '../fhir/dates.js';
import { idFromReference } from '../scheduling/appointment-resource.js';
import { closeDay, type ClosureDeps } from './closure.js';
import { isCorrectableDose } from './correct-dose.js';
import { CVX_SYSTEM } from './record-dose.js';
import { ROUTES, SITES } from './codes.js';
import { dayList, dayListCsv } from './day-list.js';
import { usableLots } from './lots.js';
import { actorOf } from './no-show.js';
import { clinicDay } from './record-dose.js';
import { daySlots, setDayHours, setSlotCapacity } from './schedule.js';

export interface ClinicRoutesDeps extends ClosureDeps {
  products: ProductCatalogue;
  requireAdmin: RequestHandler;
  /**
   * Where reads of people's data are audited (requireAdmin audits only changes): the day's list names everyone
   * booked that day, with birth dates and phones, on screen, on paper and as a CSV file.
   */
  audit?: (e: AuditInput) => void;
}

const ID = /^[A-Za-z0-9\-.]{1,64}$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

function id(v: string | undefined, name: string): string {
  if (!v || !ID.test(v)) throw badRequest(`${name} must be an id`, name);
  return v;
}
function day(v: string | undefined): string {
  if (!v || !DAY.test(v) || Number.isNaN(Date.parse(`${v}T00:00:00Z`))) throw badRequest('day must be a date (YYYY-MM-DD)', 'day');
  return v;
}
function body(req: express.Request): Record<string, unknown> {
  const b = req.body as unknown;
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw badRequest('the body must be a JSON object');
  return b as Record<string, unknown>;
}

function personName(p: Patient | Practitioner | undefined): string {
  const n = p?.name?.[0];
  return n?.text ?? [...(n?.given ?? []), n?.family].filter(Boolean).join(' ');
}

export function createClinicRouter(deps: ClinicRoutesDeps): Router {
  const r = express.Router();
  const now = (): Date => (deps.clock ?? (() => new Date()))();
  r.use(deps.requireAdmin, express.json({ limit: '64kb' }));

  r.get('/locations', async (_req, res) => {
    const rows = await deps.db.query<{ location_id: string; schedule_id: string; product_cvx: string }>(
      `SELECT DISTINCT location_id, schedule_id, product_cvx FROM slot_capacity ORDER BY location_id, schedule_id`,
    );
    const ids = [...new Set(rows.rows.map((x) => x.location_id))];
    const found = ids.length ? await deps.repo.search('Location', { _id: ids.join(','), _count: String(ids.length) }) : { resources: [] };
    const locs = new Map(found.resources.map((l) => [l.id!, l as unknown as Location]));
    const out = ids.map((lid) => ({
      id: lid,
      name: locs.get(lid)?.name ?? lid,
      timeZone: clinicTimeZone(locs.get(lid), deps.timeZone),
      today: clinicDay(now(), clinicTimeZone(locs.get(lid), deps.timeZone)),
      schedules: rows.rows.filter((x) => x.location_id === lid).map((x) => ({ id: x.schedule_id, productCvx: x.product_cvx, productName: deps.products.get(x.product_cvx)?.name ?? `CVX ${x.product_cvx}` })),
    })).sort((a, b) => a.name.localeCompare(b.name));
    res.set('Cache-Control', 'no-store').json({ locations: out });
  });

  r.get('/locations/:id/days/:day', async (req, res) => {
    const list = await dayList(deps.db, deps.repo, deps.products, id(req.params.id, 'location'), day(req.params.day), deps.timeZone);
    const format = req.query.format;
    if (format !== undefined && format !== 'csv' && format !== 'json') throw badRequest('format is csv or json', 'format');
    res.set('Cache-Control', 'no-store');
    const people = [...new Set(list.rows.flatMap((x) => (x.patientId ? [x.patientId] : [])))];
    deps.audit?.({
      action: format === 'csv' ? 'export' : 'read', outcome: 'success', who: auditWho(res.locals.principal as Principal | undefined, req.ip),
      what: `GET /admin/clinic/locations/${list.locationId}/days/${list.day}${format === 'csv' ? '?format=csv' : ''}`,
      detail: `day list${format === 'csv' ? ' downloaded as CSV' : ''}: ${list.rows.length} appointments`,
      ...(people.length ? { entities: [{ type: 'Patient', ids: people, patients: people }] } : {}),
    });
    if (format === 'csv') {
      const file = `day-list-${list.locationName.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '') || list.locationId}-${list.day}.csv`;
      res.type('text/csv; charset=utf-8').set('Content-Disposition', `attachment; filename="${file}"`).send(`\uFEFF${dayListCsv(list)}`);
      return;
    }
    res.json(list);
  });

  r.get('/locations/:id/days/:day/slots', async (req, res) => {
    res.set('Cache-Control', 'no-store').json(await daySlots(deps.db, deps.repo, id(req.params.id, 'location'), day(req.params.day), deps.timeZone));
  });

  r.post('/locations/:id/days/:day/closure', async (req, res) => {
    const b = body(req);
    if (typeof b.reason !== 'string' || !CLOSURE_REASONS.includes(b.reason as ClosureReason)) throw badRequest(`reason must be one of ${CLOSURE_REASONS.join(', ')}`, 'reason');
    if (b.to !== undefined && typeof b.to !== 'string') throw badRequest('to must be a date (YYYY-MM-DD): the last day closed', 'to');
    const answer = await closeDay(deps, {
      locationId: id(req.params.id, 'location'), day: day(req.params.day), reason: b.reason as ClosureReason,
      ...(b.to !== undefined ? { to: b.to as string } : {}),
      ...(b.note !== undefined ? { note: b.note as string } : {}),
      ...(b.offerHours !== undefined ? { offerHours: b.offerHours as number } : {}),
    }, actorOf(res.locals.principal));
    // Beside requireAdmin's entry for the request: who closed what, the days, and how many people it touched.
    const people = [...new Set(answer.affected.map((a) => a.patientId).filter((p): p is string => !!p))];
    deps.audit?.({
      action: 'update', outcome: 'success', who: auditWho(res.locals.principal as Principal | undefined, req.ip),
      what: `Location/${answer.locationId} closed ${answer.day}..${answer.to}`,
      detail: `clinic closed from ${answer.day} to ${answer.to} (${answer.closedDays.length} day${answer.closedDays.length === 1 ? '' : 's'} newly closed: ${answer.closedDays.join(', ')}), reason ${answer.reason}: ${answer.affected.length} people affected, ${answer.affected.filter((a) => a.offer).length} held a place`,
      ...(people.length ? { entities: [{ type: 'Patient', ids: people, patients: people }] } : {}),
    });
    res.status(200).json(answer);
  });

  r.put('/schedules/:id/days/:day', async (req, res) => {
    const b = body(req);
    res.json(await setDayHours(deps.db, deps.repo, {
      scheduleId: id(req.params.id, 'schedule'), day: day(req.params.day), hours: b.hours as string,
      slotMinutes: b.slotMinutes as number, capacity: b.capacity as number,
    }, deps.timeZone, now()));
  });

  r.put('/slots/:id', async (req, res) => {
    res.json(await setSlotCapacity(deps.db, id(req.params.id, 'slot'), body(req).capacity, now()));
  });

  r.get('/appointments/:id/dose-form', async (req, res) => {
    const apptId = id(req.params.id, 'appointment');
    const b = await readBooking(deps.db, apptId);
    const appt = await deps.repo.readOptional<Appointment & AnyResource>('Appointment', apptId);
    if (!b || !appt) throw notFound(`Appointment/${apptId}`);
    const location = await deps.repo.readOptional<Location & AnyResource>('Location', b.location_id);
    const at = now();
    const today = clinicDay(at, clinicTimeZone(location, deps.timeZone));
    const patient = b.patient_id ? await deps.repo.readOptional<Patient & AnyResource>('Patient', b.patient_id) : undefined;
    const staff = await deps.repo.search('Practitioner', { _count: '200', _sort: 'family' });
    res.set('Cache-Control', 'no-store').json({
      appointment: {
        id: apptId, status: appt.status, start: appt.start, patientId: b.patient_id, name: personName(patient), birthDate: patient?.birthDate ?? '',
        productCvx: b.product_cvx, productName: deps.products.get(b.product_cvx)?.name ?? `CVX ${b.product_cvx}`, doseNumber: b.dose_number,
      },
      today,
      lots: await usableLots(deps.db, b.location_id, b.product_cvx, today, at, b.inventory_id),
      practitioners: (staff.resources as unknown as Practitioner[]).filter((p) => p.active !== false).map((p) => ({ id: p.id!, name: personName(p) || p.id! })),
      // The signed-in staff member, the vaccinator to offer first (absent for the operator token).
      ...(/^Practitioner\//.test((res.locals.principal as { fhirUser?: string } | undefined)?.fhirUser ?? '') ? { me: (res.locals.principal as { fhirUser: string }).fhirUser.slice('Practitioner/'.length) } : {}),
      sites: Object.entries(SITES).map(([code, display]) => ({ code, display })),
      routes: Object.entries(ROUTES).map(([code, display]) => ({ code, display })),
    });
  });

  r.get('/immunizations/:id/correction-form', async (req, res) => {
    const immId = id(req.params.id, 'immunization');
    const imm = await deps.repo.readOptional<Immunization & AnyResource>('Immunization', immId);
    if (!imm) throw notFound(`Immunization/${immId}`);
    const locationId = idFromReference(imm.location?.reference, 'Location');
    const cvx = imm.vaccineCode?.coding?.find((c) => c.system === CVX_SYSTEM)?.code;
    const dayOf = fhirCalendarDay(imm.occurrenceDateTime);
    const staff = await deps.repo.search('Practitioner', { _count: '200', _sort: 'family' });
    const performer = imm.performer?.find((p) => p.function?.coding?.some((c) => c.code === 'AP')) ?? imm.performer?.[0];
    res.set('Cache-Control', 'no-store').json({
      immunization: {
        id: immId, status: imm.status, date: imm.occurrenceDateTime ?? null, correctable: isCorrectableDose(imm),
        vaccine: imm.vaccineCode?.text ?? imm.vaccineCode?.coding?.[0]?.display ?? (cvx ? deps.products.get(cvx)?.name ?? `CVX ${cvx}` : ''),
        lot: imm.lotNumber ?? null, site: imm.site?.coding?.[0]?.code ?? null, route: imm.route?.coding?.[0]?.code ?? null,
        performerId: idFromReference(performer?.actor?.reference, 'Practitioner') ?? null, visPublished: imm.education?.[0]?.publicationDate ?? null,
      },
      // Another lot is one usable on the dose's day at its clinic (what $correct accepts).
      lots: locationId && cvx && dayOf && imm.occurrenceDateTime ? await usableLots(deps.db, locationId, cvx, dayOf, new Date(imm.occurrenceDateTime)) : [],
      practitioners: (staff.resources as unknown as Practitioner[]).filter((p) => p.active !== false).map((p) => ({ id: p.id!, name: personName(p) || p.id! })),
      sites: Object.entries(SITES).map(([code, display]) => ({ code, display })),
      routes: Object.entries(ROUTES).map(([code, display]) => ({ code, display })),
    });
  });
  return r;
}
