/**
 * The hub's own no-show sweep, as wired (NO_SHOW_GRACE_MINUTES, NO_SHOW_SWEEP_MS), on PGlite and PostgreSQL: a booked
 * person whose slot started longer ago than the grace time is marked no-show by the running hub, the mark is
 * audited as the hub's work, and a checked-in person in the same slot is left alone.
 */
import request from 'supertest';
import type { Bundle } from 'fhir/r4';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { loadProducts } from '../../src/scheduling/products.js';
import { seedClinic } from '../scheduling/support.js';

const FHIR = 'application/fhir+json';

describe.each(backends())('the no-show sweep on %s', (backend) => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub(backend, { devOpenAccess: false, noShowGraceMinutes: 5, noShowSweepMs: 200 });
  }, 240_000);
  afterAll(async () => t?.close());

  async function bookedPerson(slotId: string): Promise<string> {
    const p = await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).send({ resourceType: 'Patient', name: [{ family: 'Sweep' }], birthDate: '1950-01-01' });
    const b = await request(t.url).post('/fhir/Appointment/$book').set(ADMIN).set('content-type', FHIR).send({
      resourceType: 'Parameters',
      // Never invited: staff book with the audited override (issue 21's fairness rules for staff).
      parameter: [{ name: 'patient-id', valueString: `Patient/${p.body.id}` }, { name: 'override-reason', valueString: 'Booked by the clinic for a person outside the invitation scheme' }, { name: 'appt-resource', resource: { resourceType: 'Appointment', status: 'proposed', slot: [{ reference: `Slot/${slotId}` }], participant: [{ actor: { reference: `Patient/${p.body.id}` }, status: 'needs-action' }] } }],
    });
    expect(b.status).toBe(200);
    return (b.body as Bundle).entry![0]!.resource!.id!;
  }

  test('marks the booked person after the grace time, audited as the hub, and leaves the checked-in one', async () => {
    const day = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const clinic = await seedClinic({ db: t.hub.db, repo: t.hub.repo, products: loadProducts(), holdSeconds: 300 }, { cvx: '208', slots: 1, capacity: 2, doses: 5, day });
    const late = await bookedPerson(clinic.slotIds[0]!);
    const here = await bookedPerson(clinic.slotIds[0]!);
    expect((await request(t.url).post(`/fhir/Appointment/${here}/$check-in`).set(ADMIN).set('content-type', FHIR)).status).toBe(200);
    // The slot started 10 minutes ago (the grace time is 5).
    const start = new Date(Date.now() - 10 * 60_000).toISOString();
    await t.hub.db.query(`UPDATE slot_capacity SET start_at = $2, end_at = $2::timestamptz + interval '15 minutes' WHERE id = $1`, [clinic.slotIds[0], start]);
    await t.hub.db.query(`UPDATE booking SET start_at = $2 WHERE slot_id = $1`, [clinic.slotIds[0], start]);

    let status = '';
    for (let i = 0; i < 100 && status !== 'noshow'; i++) {
      await new Promise((ok) => setTimeout(ok, 200));
      status = (await request(t.url).get(`/fhir/Appointment/${late}`).set(ADMIN)).body.status as string;
    }
    expect(status).toBe('noshow');
    expect((await request(t.url).get(`/fhir/Appointment/${here}`).set(ADMIN)).body.status).toBe('checked-in');
    let audit: Array<{ user_ref: string; detail: string }> = [];
    for (let i = 0; i < 50 && !audit.length; i++) {
      await new Promise((ok) => setTimeout(ok, 200));
      audit = (await t.hub.db.query<{ user_ref: string; detail: string }>(`SELECT user_ref, detail FROM audit_event WHERE what = $1 AND user_ref <> 'operator'`, [`Appointment/${late}`])).rows;
    }
    expect(audit).toEqual([{ user_ref: 'system: no-show sweep', detail: 'no-show after 5 min' }]);
  }, 120_000);
});
