/**
 * Closing a clinic for a range of days in one request (issue 21, "close a clinic, not only a day"), through the
 * running hub on PGlite and PostgreSQL: every booking of the range cancelled, each person told once and held a
 * place AFTER the range (never inside it, never over a slot's places), the staff member audited with the range and
 * the count; a range overlapping an earlier one-day closure (whose held place inside the range is moved after it and
 * the person told again, their first link leading to the new place); and bad ranges refused with an OperationOutcome.
 */
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { Appointment, Bundle, OperationOutcome } from 'fhir/r4';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { issueAccessToken } from '../../src/auth/token-service.js';
import { addStaff } from '../../src/auth/staff.js';
import { ADMIN_CLIENT_ID, ADMIN_CLIENT_SCOPE } from '../../src/apps/wiring.js';
import { loadProducts } from '../../src/scheduling/products.js';
import { receiveLot } from '../../src/scheduling/supply.js';
import { MAX_CLOSURE_DAYS } from '../../src/clinic/closure.js';
import { offerToken } from '../../src/clinic/rebooking.js';
import { seedClinic } from '../scheduling/support.js';

const FHIR = 'application/fhir+json';
const dayAt = (n: number): string => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10);

interface Affected { appointmentId: string; patientId: string; start: string; notified: string; offer?: { appointmentId: string; start: string } }

describe.each(backends())('closing a clinic for a range of days on %s', (backend) => {
  let t: TestHub;
  let staffToken: string;
  let staffRef: string;
  let clinic: { locationId: string; scheduleId: string };
  const suffix = randomUUID().slice(0, 6);
  const staff = () => ({ authorization: `Bearer ${staffToken}` });
  const closure = (d: string) => `/admin/clinic/locations/${clinic.locationId}/days/${d}/closure`;

  async function hours(d: string, capacity: number): Promise<Array<{ slotId: string }>> {
    expect((await request(t.url).put(`/admin/clinic/schedules/${clinic.scheduleId}/days/${d}`).set(ADMIN).send({ hours: '09:00-10:00', slotMinutes: 30, capacity })).status).toBe(200);
    return (await request(t.url).get(`/admin/clinic/locations/${clinic.locationId}/days/${d}/slots`).set(ADMIN)).body.slots as Array<{ slotId: string }>;
  }

  async function person(family: string): Promise<string> {
    const r = await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).send({
      resourceType: 'Patient', name: [{ family, given: ['Range'] }], birthDate: '1970-05-06',
      telecom: [{ system: 'email', value: `${family.toLowerCase()}.${suffix}@example.org` }],
    });
    expect(r.status).toBe(201);
    return r.body.id as string;
  }

  /** Staff book with the audited override (this suite is about closures, not the fairness rules). */
  async function book(patientId: string, slotId: string): Promise<string> {
    const r = await request(t.url).post('/fhir/Appointment/$book').set({ ...staff(), 'content-type': FHIR }).send({
      resourceType: 'Parameters',
      parameter: [
        { name: 'patient-id', valueString: `Patient/${patientId}` },
        { name: 'override-reason', valueString: 'Booked by the clinic for a person outside the invitation scheme' },
        { name: 'appt-resource', resource: { resourceType: 'Appointment', status: 'proposed', slot: [{ reference: `Slot/${slotId}` }], participant: [{ actor: { reference: `Patient/${patientId}` }, status: 'needs-action' }] } },
      ],
    });
    expect(r.status).toBe(200);
    return ((r.body as Bundle).entry![0]!.resource as Appointment).id!;
  }

  const appointment = async (id: string) => (await request(t.url).get(`/fhir/Appointment/${id}`).set(ADMIN)).body as Appointment;
  const closureMails = async (patientId: string) => (await t.hub.db.query<{ payload: { appointmentId: string; offerAppointmentId?: string } | string }>(
    `SELECT payload FROM notification_outbox WHERE kind = 'clinic-closure' AND recipient_patient_id = $1 ORDER BY created_at`, [patientId])).rows
    .map((r) => (typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload) as { appointmentId: string; offerAppointmentId?: string });
  /** Every held place's slot stays within its places. */
  async function withinPlaces(appointmentId: string): Promise<void> {
    const s = (await t.hub.db.query<{ capacity: number; taken: number }>(
      `SELECT s.capacity, s.taken FROM slot_capacity s JOIN booking b ON b.slot_id = s.id WHERE b.appointment_id = $1`, [appointmentId])).rows[0]!;
    expect(s.taken).toBeLessThanOrEqual(s.capacity);
  }
  async function auditDetails(what: string): Promise<string[]> {
    for (let i = 0; i < 40; i++) {
      const r = await t.hub.db.query<{ detail: string }>(`SELECT detail FROM audit_event WHERE user_ref = $1 AND what = $2 ORDER BY seq`, [staffRef, what]);
      if (r.rows.length) return r.rows.map((x) => x.detail);
      await new Promise((ok) => setTimeout(ok, 200));
    }
    return [];
  }

  beforeAll(async () => {
    t = await startTestHub(backend, { devOpenAccess: false });
    const { account } = await addStaff(t.hub.db, t.hub.repo, { email: `rhea.${suffix}@clinic.example`, name: 'Rhea Range' });
    staffRef = account.fhirUser;
    staffToken = (await issueAccessToken(t.hub.db, { issuer: t.url, audience: t.fhirUrl }, { client_id: ADMIN_CLIENT_ID, scope: ADMIN_CLIENT_SCOPE, kind: 'user', fhirUser: account.fhirUser, sub: account.fhirUser }, 3600)).token;
    const ctx = { db: t.hub.db, repo: t.hub.repo, products: loadProducts(), holdSeconds: 300 };
    clinic = await seedClinic(ctx, { cvx: '208', slots: 1, capacity: 1, doses: 0, day: dayAt(60) });
    await t.hub.db.transaction((tx) => receiveLot(tx, { locationId: clinic.locationId, productCvx: '208', lot: `RG${suffix}`, mvx: 'PFR', doses: 40, expiresOn: '2031-01-01' }));
  }, 240_000);
  afterAll(async () => {
    await t?.close();
  });

  test('bad ranges are refused with an OperationOutcome and close nothing', async () => {
    const from = dayAt(10);
    const bad = async (body: Record<string, unknown>, d = from) => {
      const r = await request(t.url).post(closure(d)).set(staff()).send({ reason: 'weather', ...body });
      expect(r.status).toBe(400);
      expect((r.body as OperationOutcome).resourceType).toBe('OperationOutcome');
      return (r.body as OperationOutcome).issue[0]!;
    };
    expect((await bad({ to: dayAt(9) })).expression).toEqual(['to']); // to before from
    expect((await bad({ to: dayAt(10 + MAX_CLOSURE_DAYS) })).diagnostics).toContain(`at most ${MAX_CLOSURE_DAYS} days`);
    await bad({ to: 'until further notice' }); // an end date is required
    await bad({ to: '2027-02-30' });
    await bad({ to: 20270301 });
    const closed = await t.hub.db.query(`SELECT 1 FROM clinic_closure WHERE location_id = $1`, [clinic.locationId]);
    expect(closed.rows).toHaveLength(0);
  });

  test('a three-day closure cancels every booking, tells each person once, holds each a place after the range, audited', async () => {
    const [d1, d2, d3, after] = [dayAt(20), dayAt(21), dayAt(22), dayAt(23)];
    const s1 = await hours(d1, 1);
    const s2 = await hours(d2, 1);
    const s3 = await hours(d3, 2);
    await hours(after, 2); // 4 places after the range, for 4 people
    const people = await Promise.all(['Ada', 'Bo', 'Cy', 'Di'].map(person));
    const booked = [
      await book(people[0]!, s1[0]!.slotId), await book(people[1]!, s2[1]!.slotId),
      await book(people[2]!, s3[0]!.slotId), await book(people[3]!, s3[0]!.slotId),
    ];
    // Free places remain inside the range (d1 and d2 have a free slot each, d3 one): none may be offered.
    const r = await request(t.url).post(closure(d1)).set(staff()).send({ reason: 'supply', to: d3, note: 'fridge failure' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ day: d1, to: d3, closedDays: [d1, d2, d3] });
    const affected = r.body.affected as Affected[];
    expect(affected.map((a) => a.appointmentId).sort()).toEqual([...booked].sort());
    for (const a of affected) {
      expect((await appointment(a.appointmentId)).status).toBe('cancelled');
      expect(a.notified).toBe('mail');
      expect(a.offer).toBeDefined();
      const held = await appointment(a.offer!.appointmentId);
      expect(held.status).toBe('pending');
      expect(held.start!.slice(0, 10)).toBe(after); // outside the range, the first open day after it
      await withinPlaces(a.offer!.appointmentId);
      const mails = await closureMails(a.patientId);
      expect(mails).toHaveLength(1);
      expect(mails[0]).toMatchObject({ appointmentId: a.appointmentId, offerAppointmentId: a.offer!.appointmentId });
    }
    // Every slot of the range is closed: no place left to book on any of the days.
    const open = await t.hub.db.query(`SELECT 1 FROM slot_capacity WHERE location_id = $1 AND start_at >= $2 AND start_at < $3 AND taken < capacity`,
      [clinic.locationId, `${d1}T00:00:00Z`, `${after}T00:00:00Z`]);
    expect(open.rows).toHaveLength(0);
    const details = await auditDetails(`Location/${clinic.locationId} closed ${d1}..${d3}`);
    expect(details).toHaveLength(1);
    expect(details[0]).toContain(`from ${d1} to ${d3}`);
    expect(details[0]).toContain('4 people affected');
    // The same range again: every day already closed.
    expect((await request(t.url).post(closure(d1)).set(staff()).send({ reason: 'supply', to: d3 })).status).toBe(409);
  });

  test('a range over an earlier one-day closure: the place held inside the range moves after it and the person is told again', async () => {
    const [o1, o2, o3, after] = [dayAt(30), dayAt(31), dayAt(32), dayAt(33)];
    const s1 = await hours(o1, 1);
    const s2 = await hours(o2, 1);
    await hours(o3, 1);
    await hours(after, 2);
    const [eve, fay] = await Promise.all(['Eve', 'Fay'].map(person));
    const eveBooking = await book(eve!, s1[0]!.slotId);
    const fayBooking = await book(fay!, s2[0]!.slotId);

    // One day, the old form: Eve's place is held on the next open day, o2, inside the range closed next.
    const day = await request(t.url).post(closure(o1)).set(staff()).send({ reason: 'weather' });
    expect(day.status).toBe(200);
    expect(day.body).toMatchObject({ day: o1, to: o1, closedDays: [o1] });
    const firstOffer = (day.body.affected as Affected[])[0]!.offer!;
    expect(firstOffer.start.slice(0, 10)).toBe(o2);

    const range = await request(t.url).post(closure(o1)).set(staff()).send({ reason: 'weather', to: o3 });
    expect(range.status).toBe(200);
    expect(range.body.closedDays).toEqual([o2, o3]); // o1 keeps its earlier record
    const affected = range.body.affected as Affected[];
    expect(affected.map((a) => a.patientId).sort()).toEqual([eve, fay].sort());
    expect((await appointment(fayBooking)).status).toBe('cancelled');
    expect((await appointment(firstOffer.appointmentId)).status).toBe('cancelled');
    for (const a of affected) {
      expect(a.offer!.start.slice(0, 10)).toBe(after);
      expect((await appointment(a.offer!.appointmentId)).status).toBe('pending');
      await withinPlaces(a.offer!.appointmentId);
    }
    // Eve was told twice (once per closure, each time of a new place), Fay once.
    const eveMails = await closureMails(eve!);
    expect(eveMails.map((m) => m.appointmentId)).toEqual([eveBooking, firstOffer.appointmentId]);
    expect(eveMails[1]!.offerAppointmentId).toBe(affected.find((a) => a.patientId === eve)!.offer!.appointmentId);
    expect(await closureMails(fay!)).toHaveLength(1);

    // Eve's first link (to the place held on o2, cancelled since) leads to the place held now, after the range: she
    // sees it, and choosing another time through that link books it (it was refused as a second booking for the dose).
    const eveNow = affected.find((a) => a.patientId === eve)!.offer!;
    const firstLink = `/signup/rebooking/${await offerToken(t.hub.db, firstOffer.appointmentId)}`;
    const seen = await request(t.url).get(firstLink);
    expect(seen.status).toBe(200);
    expect(seen.body).toMatchObject({ state: 'held', held: { appointmentId: eveNow.appointmentId }, cancelled: { appointmentId: firstOffer.appointmentId }, canChoose: true });
    const other = (seen.body.alternatives as Array<{ slotId: string; start: string }>).find((x) => x.start.slice(0, 10) === after)!;
    expect(other).toBeDefined();
    const chosen = await request(t.url).post(`${firstLink}/choose`).send({ slotId: other.slotId });
    expect(chosen.status).toBe(200);
    expect(chosen.body.state).toBe('booked');
    expect((await appointment(eveNow.appointmentId)).status).toBe('cancelled'); // the held place went back
    expect((await appointment(chosen.body.booked.appointmentId as string)).status).toBe('booked');
    const held = await t.hub.db.query(`SELECT 1 FROM booking WHERE location_id = $1 AND active AND status IN ('held', 'booked') AND start_at >= $2 AND start_at < $3`,
      [clinic.locationId, `${o1}T00:00:00Z`, `${after}T00:00:00Z`]);
    expect(held.rows).toHaveLength(0);
  });
});
