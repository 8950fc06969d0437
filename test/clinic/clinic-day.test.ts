/**
 * The clinic day run by staff, through the running hub with the real access policy, on PGlite and PostgreSQL: the
 * dose recorded from a lot of the clinic's stock (the reserved dose consumed, the appointment fulfilled, a VXU
 * queued, the health card carrying it), corrected (VXU U, stock moved between lots) and marked entered-in-error
 * (VXU with RXA-21 D, stock restored and the appointment reopened); no-shows marked, undone and swept, the place
 * going to a later slot that another person then books; the day's list as JSON and as formula-safe CSV; a day's
 * hours and places changed; and a day closed with everyone told by mail (a real SMTP server) and a place held for
 * them first. Every change leaves an audit entry naming the staff member.
 */
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import type { Appointment, Bundle, Immunization, Parameters, Patient } from 'fhir/r4';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { startMailbox, type Mailbox, type RawMail } from '../helpers/mailbox.js';
import { issueAccessToken } from '../../src/auth/token-service.js';
import { addStaff } from '../../src/auth/staff.js';
import { ADMIN_CLIENT_ID, ADMIN_CLIENT_SCOPE, WALLET_CLIENT_ID } from '../../src/apps/wiring.js';
import { decodeHealthCardJws } from '../../src/credentials/shc/jws.js';
import { saveConnection } from '../../src/sync/iis/connections.js';
import { loadProducts } from '../../src/scheduling/products.js';
import { receiveLot } from '../../src/scheduling/supply.js';
import { sweepNoShows } from '../../src/clinic/no-show.js';
import { formatReference, referenceOfAppointment } from '../../src/scheduling/booking-reference.js';
import { seedClinic } from '../scheduling/support.js';
import { sampleSender } from '../iis/sample-dose.js';

const FHIR = 'application/fhir+json';

/** A quoted-printable text mail's body, decoded. */
function textOf(m: RawMail): string {
  const body = m.raw.split(/\r?\n\r?\n/).slice(1).join('\n\n').replace(/=\r?\n/g, '');
  return Buffer.from(body.replace(/=([0-9A-F]{2})/g, (_all, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8').replace(/\r\n/g, '\n');
}

describe.each(backends())('the clinic day on %s', (backend) => {
  let t: TestHub;
  let mailbox: Mailbox<RawMail>;
  let staffToken: string;
  let staffRef: string;
  let vaccinatorId: string;
  let clinic: { locationId: string; scheduleId: string; slotIds: string[] };
  let lot1: string;
  let lot2: string;
  let expiredLot: string;
  const day = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  const suffix = randomUUID().slice(0, 6);
  const conn = { id: `cd-${suffix}`, name: 'Clinic-day IIS', transport: 'mllp' as const, endpoint: '127.0.0.1:9', credentials: {}, facilityId: 'NVC01', sender: sampleSender, coverage: { all: true }, maxAttempts: 1, enabled: true };

  const staff = () => ({ authorization: `Bearer ${staffToken}`, 'content-type': FHIR });
  const params = (p: Record<string, string | boolean | number>): Parameters => ({
    resourceType: 'Parameters',
    parameter: Object.entries(p).map(([name, v]) => (typeof v === 'boolean' ? { name, valueBoolean: v } : typeof v === 'number' ? { name, valueDecimal: v } : { name, valueString: v })),
  });
  const stock = async (id: string) => (await t.hub.db.query<{ on_hand: number; reserved: number }>(`SELECT on_hand, reserved FROM inventory WHERE id = $1`, [id])).rows[0];
  const vxu = async (doseId: string) => (await t.hub.db.query<{ action: string; payload: string }>(`SELECT action, payload FROM iis_message WHERE dose_id = $1 ORDER BY id`, [doseId])).rows;
  const slotRow = async (id: string) => (await t.hub.db.query<{ capacity: number; taken: number }>(`SELECT capacity, taken FROM slot_capacity WHERE id = $1`, [id])).rows[0];

  async function person(family: string, extra: Partial<Patient> = {}): Promise<string> {
    const r = await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).send({
      resourceType: 'Patient', name: [{ family, given: ['Test'] }], birthDate: '1970-05-06',
      telecom: [{ system: 'email', value: `${family.toLowerCase().replace(/[^a-z]/g, '')}.${suffix}@example.org` }, { system: 'phone', value: '+1 413 555 0101' }], ...extra,
    });
    expect(r.status).toBe(201);
    return r.body.id as string;
  }

  /**
   * Staff book for people this suite never registered or invited (it is about the clinic day, not the fairness
   * rules, which test/front-desk/staff-fhir-book.test.ts covers): the audited override a clinic uses for them.
   */
  async function book(patientId: string, slotId: string): Promise<{ status: number; id?: string; code?: string }> {
    const r = await request(t.url).post('/fhir/Appointment/$book').set(staff()).send({
      resourceType: 'Parameters',
      parameter: [
        { name: 'patient-id', valueString: `Patient/${patientId}` },
        { name: 'override-reason', valueString: 'Booked by the clinic for a person outside the invitation scheme' },
        { name: 'appt-resource', resource: { resourceType: 'Appointment', status: 'proposed', slot: [{ reference: `Slot/${slotId}` }], participant: [{ actor: { reference: `Patient/${patientId}` }, status: 'needs-action' }] } },
      ],
    });
    const entries = ((r.body as Bundle).entry ?? []).map((e) => e.resource as Appointment & { issue?: Array<{ details?: { coding?: Array<{ code?: string }> } }> });
    const code = entries.find((e) => e.resourceType === ('OperationOutcome' as string))?.issue?.[0]?.details?.coding?.[0]?.code;
    return { status: r.status, id: r.status === 200 ? entries[0]?.id : undefined, ...(code ? { code } : {}) };
  }

  async function checkIn(apptId: string): Promise<void> {
    const r = await request(t.url).post(`/fhir/Appointment/${apptId}/$check-in`).set(staff());
    expect(r.status).toBe(200);
  }

  /** The audit rows of this staff member whose `what` (the request path) matches, waiting for the audit buffer's flush. */
  async function audited(what: string, atLeast = 1, outcome = 'success'): Promise<Array<{ action: string; what: string }>> {
    for (let i = 0; i < 40; i++) {
      const r = await t.hub.db.query<{ action: string; what: string }>(
        `SELECT action, what FROM audit_event WHERE user_ref = $1 AND outcome = $2 AND what LIKE $3 ORDER BY seq`, [staffRef, outcome, `%${what}%`]);
      if (r.rows.length >= atLeast) return r.rows;
      await new Promise((ok) => setTimeout(ok, 200));
    }
    return (await t.hub.db.query<{ action: string; what: string }>(
      `SELECT action, what FROM audit_event WHERE user_ref = $1 AND outcome = $2 AND what LIKE $3 ORDER BY seq`, [staffRef, outcome, `%${what}%`])).rows;
  }

  /**
   * The day's slots moved so that the first started 10 minutes ago and the others start after now (the clock of a
   * clinic mid-morning), but never before the clinic's midnight (the hub's zone here, UTC): a freed place goes to a
   * later slot the same day, and just after midnight a first slot 10 minutes back would be on the day before.
   */
  async function startFirstSlot(slotIds: string[]): Promise<void> {
    const first = (await t.hub.db.query<{ start_at: Date | string }>(`SELECT start_at FROM slot_capacity WHERE id = $1`, [slotIds[0]])).rows[0]!;
    const midnight = new Date(new Date().toISOString().slice(0, 10) + 'T00:00:01Z').getTime();
    const shiftMs = Math.max(Date.now() - 10 * 60_000, midnight) - new Date(first.start_at).getTime();
    const shift = `${Math.round(shiftMs / 1000)} seconds`;
    await t.hub.db.query(`UPDATE slot_capacity SET start_at = start_at + $2::interval, end_at = end_at + $2::interval WHERE id = ANY($1::text[])`, [slotIds, shift]);
    await t.hub.db.query(`UPDATE booking SET start_at = start_at + $2::interval WHERE slot_id = ANY($1::text[])`, [slotIds, shift]);
  }

  beforeAll(async () => {
    mailbox = await startMailbox();
    t = await startTestHub(backend, { devOpenAccess: false, smtpUrl: mailbox.url, noShowGraceMinutes: 0 });
    const { account } = await addStaff(t.hub.db, t.hub.repo, { email: `vera.${suffix}@clinic.example`, name: 'Vera Vaccinator' });
    staffRef = account.fhirUser;
    vaccinatorId = account.fhirUser.split('/')[1]!;
    staffToken = (await issueAccessToken(t.hub.db, { issuer: t.url, audience: t.fhirUrl }, { client_id: ADMIN_CLIENT_ID, scope: ADMIN_CLIENT_SCOPE, kind: 'user', fhirUser: account.fhirUser, sub: account.fhirUser }, 3600)).token;
    await saveConnection(t.hub.db, conn);
    const ctx = { db: t.hub.db, repo: t.hub.repo, products: loadProducts(), holdSeconds: 300 };
    clinic = await seedClinic(ctx, { cvx: '208', slots: 8, capacity: 1, doses: 0, day });
    lot1 = (await t.hub.db.transaction((tx) => receiveLot(tx, { locationId: clinic.locationId, productCvx: '208', lot: `EK${suffix}`, mvx: 'PFR', doses: 10, expiresOn: '2031-01-01' }))).id;
    lot2 = (await t.hub.db.transaction((tx) => receiveLot(tx, { locationId: clinic.locationId, productCvx: '208', lot: `FA${suffix}`, mvx: 'PFR', doses: 5, expiresOn: '2031-06-01' }))).id;
    expiredLot = (await t.hub.db.transaction((tx) => receiveLot(tx, { locationId: clinic.locationId, productCvx: '208', lot: `OLD${suffix}`, doses: 5, expiresOn: '2020-01-01' }))).id;
  }, 240_000);
  afterAll(async () => {
    await t?.hub.db.query(`UPDATE iis_connection SET enabled = false WHERE id = $1`, [conn.id]);
    await t?.close();
    await mailbox?.close();
  });

  let doseId: string;
  let apptA: string;
  let patientA: string;

  test('records the dose from a lot: stock consumed, appointment fulfilled, VXU queued, card carries it, audited', async () => {
    patientA = await person('Ada');
    const b = await book(patientA, clinic.slotIds[0]!);
    expect(b.status).toBe(200);
    apptA = b.id!;
    expect(await stock(lot1)).toEqual({ on_hand: 10, reserved: 1 });

    // Not checked in yet: refused, nothing written.
    const early = await request(t.url).post(`/fhir/Appointment/${apptA}/$record-dose`).set(staff()).send(params({ lot: lot1, site: 'LD', route: 'IM' }));
    expect(early.status).toBe(409);
    expect(early.body.issue[0].details.coding[0].code).toBe('APPOINTMENT_STATE');
    await checkIn(apptA);

    const form = await request(t.url).get(`/admin/clinic/appointments/${apptA}/dose-form`).set('authorization', `Bearer ${staffToken}`);
    expect(form.status).toBe(200);
    expect(form.body.lots.map((l: { lot: string }) => l.lot)).toEqual([`EK${suffix}`, `FA${suffix}`]); // the expired lot is not offered
    expect(form.body.lots[0]).toMatchObject({ inventoryId: lot1, reservedForThem: true, usable: 10 });
    expect(form.body.practitioners.map((p: { id: string }) => p.id)).toContain(vaccinatorId);
    expect(form.body.me).toBe(vaccinatorId); // the signed-in staff member is offered as the vaccinator

    // Bad input is a 400/422 OperationOutcome, never a 500.
    expect((await request(t.url).post(`/fhir/Appointment/${apptA}/$record-dose`).set(staff()).send(params({ lot: lot1, site: 'ear', route: 'IM' }))).status).toBe(400);
    const expired = await request(t.url).post(`/fhir/Appointment/${apptA}/$record-dose`).set(staff()).send(params({ lot: expiredLot, site: 'LD', route: 'IM' }));
    expect(expired.status).toBe(422);
    expect(expired.body.issue[0].details.coding[0].code).toBe('LOT_UNUSABLE');
    expect((await request(t.url).post(`/fhir/Appointment/${apptA}/$record-dose`).set(staff()).send(params({ lot: lot1, site: 'LD', route: 'IM', performer: 'Practitioner/nobody' }))).status).toBe(400);

    const r = await request(t.url).post(`/fhir/Appointment/${apptA}/$record-dose`).set(staff())
      .send(params({ lot: lot1, site: 'LD', route: 'IM', performer: `Practitioner/${vaccinatorId}`, 'vis-published': '2023-10-19' }));
    expect(r.status).toBe(201);
    const imm = r.body as Immunization;
    doseId = imm.id!;
    expect(imm).toMatchObject({
      status: 'completed', primarySource: true, lotNumber: `EK${suffix}`, expirationDate: '2031-01-01', patient: { reference: `Patient/${patientA}` },
      location: { reference: `Location/${clinic.locationId}` }, manufacturer: { identifier: { value: 'PFR' } },
      site: { coding: [{ code: 'LD' }] }, route: { coding: [{ code: 'IM' }] }, protocolApplied: [{ doseNumberPositiveInt: 1 }],
      performer: [{ actor: { reference: `Practitioner/${vaccinatorId}` } }],
      education: [{ documentType: '208', publicationDate: '2023-10-19' }],
    });
    expect(await stock(lot1)).toEqual({ on_hand: 9, reserved: 0 });
    expect((await request(t.url).get(`/fhir/Appointment/${apptA}`).set(ADMIN)).body.status).toBe('fulfilled');
    const sent = await vxu(doseId);
    expect(sent.map((m) => m.action)).toEqual(['A']);
    expect(sent[0]!.payload).toContain(`EK${suffix}`);

    // The card is there at once: the staff-recorded dose is one the hub vouches for.
    const patientToken = (await issueAccessToken(t.hub.db, { issuer: t.url, audience: t.fhirUrl }, { client_id: WALLET_CLIENT_ID, scope: 'patient/*.rs', kind: 'patient', patient: patientA, fhirUser: `Patient/${patientA}` }, 600)).token;
    const card = await request(t.url).post(`/fhir/Patient/${patientA}/$health-cards-issue`).set({ authorization: `Bearer ${patientToken}`, 'content-type': FHIR })
      .send({ resourceType: 'Parameters', parameter: [{ name: 'credentialType', valueUri: 'https://smarthealth.cards#immunization' }] });
    expect(card.status).toBe(200);
    const jws = (card.body as Parameters).parameter!.find((p) => p.name === 'verifiableCredential')!.valueString!;
    const bundle = decodeHealthCardJws(jws).payload.vc.credentialSubject.fhirBundle as Bundle;
    expect(bundle.entry!.map((e) => (e.resource as Immunization).lotNumber)).toContain(`EK${suffix}`);

    // Recorded once: a second try is refused.
    expect((await request(t.url).post(`/fhir/Appointment/${apptA}/$record-dose`).set(staff()).send(params({ lot: lot1, site: 'LD', route: 'IM' }))).status).toBe(409);
    expect((await audited(`Appointment/${apptA}/$record-dose`)).length).toBeGreaterThan(0);
  });

  test('a wrong lot is corrected (VXU U, stock moved) and a wrong record entered-in-error (VXU D, stock back, appointment open again)', async () => {
    expect((await request(t.url).post(`/fhir/Immunization/${doseId}/$correct`).set(staff()).send(params({ lot: lot2 }))).status).toBe(400); // no reason
    const fixed = await request(t.url).post(`/fhir/Immunization/${doseId}/$correct`).set(staff()).send(params({ lot: lot2, site: 'RD', reason: 'vial from the second tray' }));
    expect(fixed.status).toBe(200);
    expect(fixed.body).toMatchObject({ lotNumber: `FA${suffix}`, expirationDate: '2031-06-01', site: { coding: [{ code: 'RD' }] } });
    expect(await stock(lot1)).toEqual({ on_hand: 10, reserved: 0 });
    expect(await stock(lot2)).toEqual({ on_hand: 4, reserved: 0 });
    expect((await vxu(doseId)).map((m) => m.action)).toEqual(['A', 'U']);

    const gone = await request(t.url).post(`/fhir/Immunization/${doseId}/$entered-in-error`).set(staff()).send(params({ reason: 'recorded on the wrong person', restock: true }));
    expect(gone.status).toBe(200);
    expect(gone.body.status).toBe('entered-in-error');
    const msgs = await vxu(doseId);
    expect(msgs.map((m) => m.action)).toEqual(['A', 'U', 'D']);
    const rxa = msgs[2]!.payload.split('\r').find((s) => s.startsWith('RXA|'))!.split('|');
    expect(rxa[21]).toBe('D'); // RXA-21 action code: delete
    expect(await stock(lot2)).toEqual({ on_hand: 5, reserved: 1 }); // back on the shelf, reserved for the reopened appointment
    expect((await request(t.url).get(`/fhir/Appointment/${apptA}`).set(ADMIN)).body.status).toBe('checked-in');
    expect((await request(t.url).post(`/fhir/Immunization/${doseId}/$entered-in-error`).set(staff()).send(params({ reason: 'again' }))).status).toBe(409);

    // The right dose is recorded afterwards from the same shelf.
    const again = await request(t.url).post(`/fhir/Appointment/${apptA}/$record-dose`).set(staff()).send(params({ lot: lot2, site: 'LD', route: 'IM' }));
    expect(again.status).toBe(201);
    expect(await stock(lot2)).toEqual({ on_hand: 4, reserved: 0 });
    expect((await audited(`Immunization/${doseId}/$correct`)).length).toBeGreaterThan(0);
    expect((await audited(`Immunization/${doseId}/$entered-in-error`)).length).toBeGreaterThan(0);
  });

  let apptB: string;
  test('a no-show gives the dose back and the place to the next slot, where another person books it; undo puts it back', async () => {
    const patientB = await person('Bo');
    const patientE = await person('Eve');
    apptB = (await book(patientB, clinic.slotIds[1]!)).id!;
    expect((await book(patientE, clinic.slotIds[2]!)).status).toBe(200);
    await startFirstSlot(clinic.slotIds.slice(1));
    const patientD = await person('Dan');
    expect((await book(patientD, clinic.slotIds[2]!)).code).toBe('SLOT_FULL'); // the next slot is full...
    const reservedBefore = (await stock(lot1))!.reserved;

    const r = await request(t.url).post(`/fhir/Appointment/${apptB}/$no-show`).set(staff());
    expect(r.status).toBe(200);
    const out = r.body as Parameters;
    expect((out.parameter!.find((p) => p.name === 'appointment')!.resource as Appointment).status).toBe('noshow');
    expect(out.parameter!.find((p) => p.name === 'freed-place')!.valueReference!.reference).toBe(`Slot/${clinic.slotIds[2]}`);
    expect((await stock(lot1))!.reserved).toBe(reservedBefore - 1);
    expect(await slotRow(clinic.slotIds[2]!)).toEqual({ capacity: 2, taken: 1 });

    // Undo (they arrived late): booked again in their own slot with a dose; the later slot gives the place back.
    const undo = await request(t.url).post(`/fhir/Appointment/${apptB}/$undo-no-show`).set(staff());
    expect(undo.status).toBe(200);
    expect(undo.body.status).toBe('booked');
    expect(await slotRow(clinic.slotIds[2]!)).toEqual({ capacity: 1, taken: 1 });
    expect((await stock(lot1))!.reserved).toBe(reservedBefore);
    expect((await request(t.url).post(`/fhir/Appointment/${apptB}/$undo-no-show`).set(staff())).status).toBe(409);

    // Marked again; now the freed place is booked by someone else the same day.
    expect((await request(t.url).post(`/fhir/Appointment/${apptB}/$no-show`).set(staff())).status).toBe(200);
    expect((await book(patientD, clinic.slotIds[2]!)).status).toBe(200);
    expect(await slotRow(clinic.slotIds[2]!)).toEqual({ capacity: 2, taken: 2 });
    // A checked-in person is no no-show, and a slot in the future cannot be one yet.
    expect((await request(t.url).post(`/fhir/Appointment/${apptA}/$no-show`).set(staff())).status).toBe(409);
    expect((await audited(`Appointment/${apptB}/$no-show`, 2)).length).toBe(2);
    expect((await audited(`Appointment/${apptB}/$undo-no-show`)).length).toBe(1);
  });

  test('the sweep marks booked people who have not come after the grace time, and no one else', async () => {
    const patientF = await person('Fay');
    const apptF = (await book(patientF, clinic.slotIds[3]!)).id!;
    const patientG = await person('Gus');
    const apptG = (await book(patientG, clinic.slotIds[4]!)).id!;
    // F's slot started 10 minutes ago (G's is later): with 5 minutes' grace F is a no-show and G is not.
    await startFirstSlot(clinic.slotIds.slice(3));
    const marked = await sweepNoShows({ db: t.hub.db, repo: t.hub.repo, timeZone: t.hub.config.timeZone }, 5);
    expect(marked).toContain(apptF);
    expect(marked).not.toContain(apptG);
    expect((await request(t.url).get(`/fhir/Appointment/${apptF}`).set(ADMIN)).body.status).toBe('noshow');
    expect((await request(t.url).get(`/fhir/Appointment/${apptG}`).set(ADMIN)).body.status).toBe('booked');
    const noshow = (await t.hub.db.query<{ automatic: boolean; marked_by: string }>(`SELECT automatic, marked_by FROM clinic_noshow WHERE appointment_id = $1`, [apptF])).rows[0];
    expect(noshow).toEqual({ automatic: true, marked_by: 'system: no-show sweep' });
  });

  test("the day's list: who, when and where each stands, as JSON and as formula-safe CSV", async () => {
    const evil = await person('=HYPERLINK("http://evil.example","x")');
    await book(evil, clinic.slotIds[5]!);
    // A's slot is tomorrow; B's and F's were moved to today (startFirstSlot).
    const dayOf = async (slotId: string) => (await t.hub.db.query<{ d: string }>(`SELECT to_char(start_at, 'YYYY-MM-DD') AS d FROM slot_capacity WHERE id = $1`, [slotId])).rows[0]!.d;
    const lists = await Promise.all([clinic.slotIds[0]!, clinic.slotIds[1]!].map(async (s) => {
      const r = await request(t.url).get(`/admin/clinic/locations/${clinic.locationId}/days/${await dayOf(s)}`).set('authorization', `Bearer ${staffToken}`);
      expect(r.status).toBe(200);
      return r.body as { rows: Array<{ appointmentId: string; reference: string; status: string; lot?: string; name: string; start: string }>; counts: Record<string, number> };
    }));
    const byAppt = new Map(lists.flatMap((l) => l.rows).map((x) => [x.appointmentId, x]));
    expect(byAppt.get(apptA)).toMatchObject({ status: 'vaccinated', lot: `FA${suffix}`, name: 'Ada, Test' });
    // The reference as the person was given it on their mail and letter (ABCD-EFGH).
    const apptAResource = (await request(t.url).get(`/fhir/Appointment/${apptA}`).set(ADMIN)).body as Appointment;
    expect(byAppt.get(apptA)!.reference).toBe(formatReference(referenceOfAppointment(apptAResource)!));
    expect(byAppt.get(apptB)).toMatchObject({ status: 'no-show' });
    expect(lists[1]!.counts['no-show']).toBe(2); // B by staff, F by the sweep
    expect(lists[1]!.rows.map((x) => x.start)).toEqual([...lists[1]!.rows.map((x) => x.start)].sort());

    const csvDay = await dayOf(clinic.slotIds[5]!);
    const csv = await request(t.url).get(`/admin/clinic/locations/${clinic.locationId}/days/${csvDay}`).query({ format: 'csv' }).set('authorization', `Bearer ${staffToken}`);
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.headers['content-disposition']).toMatch(/attachment; filename="day-list-.*\.csv"/);
    const lines = csv.text.replace(/^\uFEFF/, '').split('\r\n');
    expect(lines[0]).toBe('time,reference,name,birth_date,phone,vaccine,cvx,dose,status,lot');
    const evilLine = lines.find((l) => l.includes('HYPERLINK'))!;
    expect(evilLine).toContain(`"'=HYPERLINK(""http://evil.example"",""x""), Test"`);
    expect(evilLine).toContain("'+1 413 555 0101");
    expect(lines.every((l) => !/(^|,)[=+\-@]/.test(l))).toBe(true);
    // Reading and downloading the list of the day's people is audited, naming the staff member and each person on it.
    const exported = await audited(`GET /admin/clinic/locations/${clinic.locationId}/days/${csvDay}?format=csv`);
    expect(exported.map((x) => x.action)).toEqual(['export']);
    const onIt = await t.hub.db.query<{ action: string }>(`SELECT action FROM audit_event WHERE user_ref = $1 AND what = $2 AND $3 = ANY(patient_ids)`,
      [staffRef, `GET /admin/clinic/locations/${clinic.locationId}/days/${csvDay}?format=csv`, evil]);
    expect(onIt.rows).toEqual([{ action: 'export' }]);
    expect((await audited(`GET /admin/clinic/locations/${clinic.locationId}/days/`)).map((x) => x.action)).toContain('read');
    expect((await request(t.url).get(`/admin/clinic/locations/${clinic.locationId}/days/not-a-day`).set(ADMIN)).status).toBe(400);
  });

  test("a day's hours, breaks and places change; a slot never offers fewer places than it has people", async () => {
    const hoursDay = new Date(Date.now() + 5 * 86_400_000).toISOString().slice(0, 10);
    const path = `/admin/clinic/schedules/${clinic.scheduleId}/days/${hoursDay}`;
    const opened = await request(t.url).put(path).set('authorization', `Bearer ${staffToken}`).send({ hours: '09:00-10:00,11:00-12:00', slotMinutes: 30, capacity: 3 });
    expect(opened.status).toBe(200);
    expect(opened.body).toMatchObject({ created: 4, closed: 0 });
    const slots = await request(t.url).get(`/admin/clinic/locations/${clinic.locationId}/days/${hoursDay}/slots`).set(ADMIN);
    expect(slots.body.slots.map((s: { start: string; capacity: number }) => [s.start.slice(11, 16), s.capacity])).toEqual([['09:00', 3], ['09:30', 3], ['11:00', 3], ['11:30', 3]]);
    const booked = await book(await person('Hal'), slots.body.slots[3].slotId);
    expect(booked.status).toBe(200);
    // A longer break (11:00-12:00 dropped) and 2 places: the 11:30 slot keeps its one booked place.
    const changed = await request(t.url).put(path).set('authorization', `Bearer ${staffToken}`).send({ hours: '09:00-10:00', slotMinutes: 30, capacity: 2 });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ created: 0, updated: 2, closed: 2 });
    expect(changed.body.kept.map((s: { slotId: string; capacity: number }) => [s.slotId, s.capacity])).toEqual([[slots.body.slots[3].slotId, 1]]);
    expect((await request(t.url).put(`/admin/clinic/slots/${slots.body.slots[3].slotId}`).set('authorization', `Bearer ${staffToken}`).send({ capacity: 0 })).status).toBe(409);
    expect((await request(t.url).put(`/admin/clinic/slots/${slots.body.slots[0].slotId}`).set('authorization', `Bearer ${staffToken}`).send({ capacity: 5 })).body.capacity).toBe(5);
    expect((await request(t.url).put(path).set(ADMIN).send({ hours: '17:00-09:00', slotMinutes: 30, capacity: 2 })).status).toBe(400);
    expect((await audited(`PUT /admin/clinic/schedules/${clinic.scheduleId}/days/${hoursDay}`)).length).toBeGreaterThan(0);
  });

  test('closing a day cancels it, holds a later place for each person first, and tells them by mail in their language', async () => {
    const closeDay = new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10);
    const nextDay = new Date(Date.now() + 8 * 86_400_000).toISOString().slice(0, 10);
    const dayPath = (d: string) => `/admin/clinic/schedules/${clinic.scheduleId}/days/${d}`;
    expect((await request(t.url).put(dayPath(closeDay)).set(ADMIN).send({ hours: '09:00-10:00', slotMinutes: 30, capacity: 2 })).status).toBe(200);
    expect((await request(t.url).put(dayPath(nextDay)).set(ADMIN).send({ hours: '09:00-10:00', slotMinutes: 30, capacity: 1 })).status).toBe(200);
    const slots = (await request(t.url).get(`/admin/clinic/locations/${clinic.locationId}/days/${closeDay}/slots`).set(ADMIN)).body.slots as Array<{ slotId: string }>;
    const ines = await person('Ines', { communication: [{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'es' }] }, preferred: true }] });
    const jon = await person('Jon');
    const kim = await person('Kim', { telecom: [{ system: 'phone', value: '+1 413 555 0199' }] });
    const a1 = (await book(ines, slots[0]!.slotId)).id!;
    const a2 = (await book(jon, slots[0]!.slotId)).id!;
    const a3 = (await book(kim, slots[1]!.slotId)).id!;

    expect((await request(t.url).post(`/admin/clinic/locations/${clinic.locationId}/days/${closeDay}/closure`).set('authorization', `Bearer ${staffToken}`).send({ reason: 'hail' })).status).toBe(400);
    const r = await request(t.url).post(`/admin/clinic/locations/${clinic.locationId}/days/${closeDay}/closure`).set('authorization', `Bearer ${staffToken}`).send({ reason: 'weather', note: 'snow storm' });
    expect(r.status).toBe(200);
    const affected = r.body.affected as Array<{ appointmentId: string; reference: string; name: string; notified: string; offer?: { appointmentId: string; start: string } }>;
    expect(affected.map((x) => x.appointmentId).sort()).toEqual([a1, a2, a3].sort());
    expect(affected.find((x) => x.appointmentId === a3)!.notified).toBe('call'); // no email, no SMS gateway: staff call
    // Staff calling people read them the reference they were given (ABCD-EFGH), and their name, never an id.
    const shownRef = async (id: string) => formatReference(referenceOfAppointment((await request(t.url).get(`/fhir/Appointment/${id}`).set(ADMIN)).body as Appointment)!);
    expect(affected.find((x) => x.appointmentId === a3)).toMatchObject({ reference: await shownRef(a3), name: 'Kim, Test' });
    for (const x of affected) expect(x.reference).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    // The next day has 2 places (1 per slot): the first two people get them, held; the third gets none.
    const offered = affected.filter((x) => x.offer);
    expect(offered).toHaveLength(2);
    for (const o of offered) {
      const held = (await request(t.url).get(`/fhir/Appointment/${o.offer!.appointmentId}`).set(ADMIN)).body as Appointment;
      expect(held.status).toBe('pending');
      expect(held.start!.slice(0, 10)).toBe(nextDay);
    }
    for (const a of [a1, a2, a3]) expect((await request(t.url).get(`/fhir/Appointment/${a}`).set(ADMIN)).body.status).toBe('cancelled');
    // Nobody else can book the closed day, and it cannot be closed twice.
    expect((await book(await person('Lou'), slots[1]!.slotId)).code).toBe('SLOT_FULL');
    expect((await request(t.url).post(`/admin/clinic/locations/${clinic.locationId}/days/${closeDay}/closure`).set(ADMIN).send({ reason: 'weather' })).status).toBe(409);

    const spanish = textOf(await mailbox.waitFor((m) => m.to.includes(`ines.${suffix}@example.org`), 30_000));
    expect(spanish).toContain('la clínica está cerrada el día de su cita (mal tiempo)');
    expect(spanish).toContain('Le guardamos un nuevo lugar');
    const english = textOf(await mailbox.waitFor((m) => m.to.includes(`jon.${suffix}@example.org`), 30_000));
    expect(english).toContain('the clinic is closed on the day of your appointment (bad weather)');
    // The held place is on the next day, whichever weekday the suite runs on.
    const weekday = new Date(`${nextDay}T12:00:00Z`).toLocaleDateString('en-US', { weekday: 'long', timeZone: 'UTC' });
    expect(english).toMatch(new RegExp(`holding a new place for you .*\\nWhen: ${weekday}`, 's'));
    expect(english).toContain(await shownRef(a2)); // the cancelled booking's reference as Jon was given it
    expect(english).not.toContain(a2);
    expect((await audited(`POST /admin/clinic/locations/${clinic.locationId}/days/${closeDay}/closure`)).length).toBeGreaterThan(0);
    const list = await request(t.url).get(`/admin/clinic/locations/${clinic.locationId}/days/${closeDay}`).set(ADMIN);
    expect(list.body.closed.reason).toBe('weather: snow storm');
  });

  test('operators only: a patient token cannot record doses or read the day list', async () => {
    const token = (await issueAccessToken(t.hub.db, { issuer: t.url, audience: t.fhirUrl }, { client_id: WALLET_CLIENT_ID, scope: 'patient/*.cruds', kind: 'patient', patient: patientA, fhirUser: `Patient/${patientA}` }, 600)).token;
    expect((await request(t.url).post(`/fhir/Appointment/${apptA}/$no-show`).set({ authorization: `Bearer ${token}`, 'content-type': FHIR })).status).toBe(403);
    expect((await request(t.url).get(`/admin/clinic/locations/${clinic.locationId}/days/${day}`).set({ authorization: `Bearer ${token}` })).status).toBe(403);
  });
});
