/**
 * Issue 21: a staff call to FHIR `Appointment/$book` or `$hold`, and a staff POST/PUT Appointment (also as a
 * transaction entry), keeps to the fairness rules the public books under, as the console's front desk does
 * (src/scheduling/opening-night/staff-book.ts, staff-write.ts), on a real hub with the real access policy and
 * booking gate, on PGlite and PostgreSQL. Outside the rules it is refused with the public's codes
 * (INVITATION_REQUIRED, NOT_ELIGIBLE, OUTSIDE_WINDOW) and writes nothing; with a reason (`override-reason`, or an
 * X-Provenance header on a write) it books and the reason is audited naming the staff member; within the rules the
 * person's invitation is used and the confirmation mailed. Supply and the dose interval hold for an override too.
 * Cancelling, checking in and moving one's own booking need no reason.
 */
import { randomBytes } from 'node:crypto';
import type { Appointment, AuditEvent, Bundle, OperationOutcome, Parameters, Provenance } from 'fhir/r4';
import { ADMIN_CLIENT_ID } from '../../src/apps/wiring.js';
import { searchAudit } from '../../src/auth/audit.js';
import { addStaff } from '../../src/auth/staff.js';
import { issueAccessToken } from '../../src/auth/token-service.js';
import { issueTicket } from '../../src/scheduling/invitations/tickets.js';
import { scheduleWindow } from '../../src/scheduling/invitations/waves.js';
import { loadProducts } from '../../src/scheduling/products.js';
import { backends, type TestHub } from '../helpers/hub.js';
import { overrideReasonParam, xProvenance } from '../helpers/staff-override.js';
import { startMailbox, startOpeningNightHub } from '../opening-night/opening-night-hub.js';
import { seedClinic } from '../scheduling/support.js';

const tag = randomBytes(3).toString('hex');

/** A `$book` answer: a searchset (booked, or an Argonaut refusal) or an OperationOutcome. */
type Answer = Partial<Omit<Bundle, 'resourceType'>> & Partial<Omit<OperationOutcome, 'resourceType'>> & { resourceType: string };

describe.each(backends())('staff FHIR $book under the fairness rules (%s)', (backend) => {
  let t: TestHub;
  let mailbox: Awaited<ReturnType<typeof startMailbox>>;
  let token: string;
  let staffRef: string;
  let clinic: { locationId: string; slotIds: string[] };
  let empty: { locationId: string; slotIds: string[] };
  let writes: { locationId: string; slotIds: string[] };

  const call = async <T = Record<string, unknown>>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${t.url}${path}`, {
      method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/fhir+json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  };
  const book = (patientId: string, slotId: string, extra: Parameters['parameter'] = []) =>
    call<Answer>('POST', '/fhir/Appointment/$book', {
      resourceType: 'Parameters',
      parameter: [{ name: 'appt-id', valueString: `Appointment/slot.${slotId}` }, { name: 'patient-id', valueString: `Patient/${patientId}` }, ...(extra ?? [])],
    } satisfies Parameters);
  /** The coded errors of a refusal: a plain OperationOutcome, or the Argonaut searchset that carries one. */
  const codes = (body: Answer): string[] => {
    const oo = body.resourceType === 'OperationOutcome' ? (body as OperationOutcome) : (body.entry?.find((e) => e.resource?.resourceType === 'OperationOutcome')?.resource as OperationOutcome);
    return oo.issue.filter((i) => i.severity === 'error').map((i) => i.details?.coding?.[0]?.code ?? '');
  };
  const taken = async (slotId: string): Promise<number> => (await t.hub.db.query<{ taken: number }>('SELECT taken FROM slot_capacity WHERE id = $1', [slotId])).rows[0]!.taken;
  const bookingsOf = async (patientId: string): Promise<number> =>
    Number((await t.hub.db.query<{ n: string }>(`SELECT count(*) AS n FROM booking WHERE patient_id = $1 AND active`, [patientId])).rows[0]!.n);
  const register = async (family: string, extra: Record<string, unknown> = {}) => {
    const r = await fetch(`${t.url}/admin/front-desk/people`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: { family: `${family}-${tag}`, given: ['Sam'] }, birthDate: '1948-06-07', postalCode: '01201', confirmationBy: 'clinic', answers: { occupation: 'healthcare-personnel' }, ...extra }),
    });
    expect(r.status).toBe(201);
    return (await r.json()) as { patientId: string; registrationId: string };
  };
  const invite = async (registrationId: string, opensInMs: number) => {
    const window = await scheduleWindow(t.hub.db, { name: `fhir-book-${tag}-${registrationId}`, opensAt: new Date(Date.now() + opensInMs).toISOString(), closesAt: new Date(Date.now() + 86_400_000).toISOString(), criteria: {} });
    return issueTicket(t.hub.db, { registrantId: registrationId, windowId: window.id, now: new Date() });
  };
  const auditOf = async (patientId: string, wanted: (e: AuditEvent) => boolean): Promise<AuditEvent> => {
    for (let i = 0; i < 150; i++) {
      const hit = (await searchAudit(t.hub.db, { patientId, limit: 200 })).find(wanted);
      if (hit) return hit;
      await new Promise((ok) => setTimeout(ok, 100));
    }
    throw new Error(`no such audit entry for Patient/${patientId}`);
  };

  beforeAll(async () => {
    mailbox = await startMailbox();
    t = await startOpeningNightHub(backend, { smtpUrl: mailbox.url });
    const { account } = await addStaff(t.hub.db, t.hub.repo, { email: `fhirbook.${tag}@clinic.example`, name: 'Fay Fhir' });
    staffRef = account.fhirUser;
    token = (await issueAccessToken(t.hub.db, { issuer: t.url, audience: t.fhirUrl }, {
      client_id: ADMIN_CLIENT_ID, scope: 'user/Practitioner.r openid fhirUser vaxhub/operator', kind: 'user', sub: account.fhirUser, fhirUser: account.fhirUser,
    }, 3600)).token;
    const day = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
    const ctx = { db: t.hub.db, repo: t.hub.repo, products: loadProducts() };
    clinic = await seedClinic(ctx, { cvx: '187', slots: 4, capacity: 3, doses: 20, day, lot: `FB-${tag}` });
    writes = await seedClinic(ctx, { cvx: '187', slots: 8, capacity: 4, doses: 40, day, lot: `FW-${tag}` });
    empty = await seedClinic(ctx, { cvx: '187', slots: 1, capacity: 3, doses: 0, day, lot: `FB0-${tag}` });
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    await mailbox?.close();
  });

  it('refuses a person who is not registered with INVITATION_REQUIRED, books nothing, and books with an audited override-reason', async () => {
    const patient = (await call<{ id: string }>('POST', '/fhir/Patient', { resourceType: 'Patient', name: [{ family: `Unlisted-${tag}` }], birthDate: '1940-01-01' })).body.id;
    const slot = clinic.slotIds[0]!;
    const before = await taken(slot);
    const refused = await book(patient, slot);
    expect(refused.status).toBe(403);
    expect(codes(refused.body)).toEqual(['INVITATION_REQUIRED']);
    expect(refused.body.issue![0]!.diagnostics).toContain('NOT_REGISTERED');
    expect(refused.body.issue![0]!.diagnostics).toContain('override-reason');
    expect(await taken(slot)).toBe(before);
    expect(await bookingsOf(patient)).toBe(0);

    const tooShort = await book(patient, slot, [{ name: 'override-reason', valueString: 'ok' }]);
    expect(tooShort.status).toBe(400);
    expect(tooShort.body.issue![0]!.expression).toEqual(['override-reason']);

    const reason = 'Referred by the hospital ward, discharged today';
    const booked = await book(patient, slot, [{ name: 'override-reason', valueString: reason }]);
    expect(booked.status).toBe(200);
    const appt = booked.body.entry![0]!.resource!;
    expect(appt).toMatchObject({ resourceType: 'Appointment', status: 'booked' });
    expect(await taken(slot)).toBe(before + 1);
    const audit = await auditOf(patient, (e) => (e.outcomeDesc ?? '').includes(reason));
    expect(audit.outcomeDesc).toContain('booked outside the fairness rules (NOT_REGISTERED)');
    expect(audit.agent.some((a) => a.who?.reference === staffRef)).toBe(true);
    expect(audit.entity?.some((x) => x.what?.reference === `Appointment/${appt.id}`)).toBe(true);

    // An override answers the fairness rules only: the dose interval and the supply still hold.
    const again = await book(patient, clinic.slotIds[1]!, [{ name: 'override-reason', valueString: reason }]);
    expect(again.status).toBe(422);
    expect(codes(again.body)).toEqual(['INTERVAL_TOO_SHORT']);
    const other = (await call<{ id: string }>('POST', '/fhir/Patient', { resourceType: 'Patient', name: [{ family: `NoStock-${tag}` }], birthDate: '1941-01-01' })).body.id;
    const noStock = await book(other, empty.slotIds[0]!, [{ name: 'override-reason', valueString: reason }]);
    expect(noStock.status).toBe(409);
    expect(codes(noStock.body)).toEqual(['NO_SUPPLY']);
  }, 120_000);

  it('answers NOT_ELIGIBLE and OUTSIDE_WINDOW as the public gets them', async () => {
    const young = await register('Young', { birthDate: '2015-02-03', answers: {} });
    const notEligible = await book(young.patientId, clinic.slotIds[2]!);
    expect(notEligible.status).toBe(403);
    expect(codes(notEligible.body)).toEqual(['NOT_ELIGIBLE']);

    const early = await register('Early');
    await invite(early.registrationId, 3_600_000);
    const notYet = await book(early.patientId, clinic.slotIds[2]!);
    expect(notYet.status).toBe(403);
    expect(codes(notYet.body)).toEqual(['OUTSIDE_WINDOW']);
    expect(await bookingsOf(early.patientId)).toBe(0);
  }, 60_000);

  it('within the rules: books without a reason, uses the invitation and mails the confirmation', async () => {
    const email = `invited-${tag}@example.org`;
    const person = await register('Invited', { email, confirmationBy: 'email' });
    const ticket = await invite(person.registrationId, -3_600_000);
    const booked = await book(person.patientId, clinic.slotIds[3]!);
    expect(booked.status).toBe(200);
    const used = await t.hub.db.query<{ status: string }>('SELECT status FROM invitation_ticket WHERE ref = $1', [ticket.ref]);
    expect(used.rows[0]!.status).toBe('used');
    const mail = await mailbox.waitFor((m) => m.to.includes(email));
    expect(mail.subject.length).toBeGreaterThan(0);
    // The invitation is used now: a second booking for the person is outside the rules again.
    const twice = await book(person.patientId, clinic.slotIds[2]!);
    expect(twice.status).toBe(403);
    expect(codes(twice.body)).toEqual(['INVITATION_REQUIRED']);
  }, 60_000);

  it('moves a person\'s own booking without a reason (it met the rules when booked)', async () => {
    const patient = (await call<{ id: string }>('POST', '/fhir/Patient', { resourceType: 'Patient', name: [{ family: `Mover-${tag}` }], birthDate: '1942-01-01' })).body.id;
    const first = await book(patient, clinic.slotIds[2]!, [{ name: 'override-reason', valueString: 'Carer booked by phone for her mother' }]);
    expect(first.status).toBe(200);
    const moved = await book(patient, clinic.slotIds[3]!, [{ name: 'cancelled-appt-id', valueString: `Appointment/${first.body.entry![0]!.resource!.id}` }]);
    expect(moved.status).toBe(200);
    expect(await bookingsOf(patient)).toBe(1);
  }, 60_000);

  // Issue 21, the other staff paths to a place: $hold, and plain writes (POST/PUT Appointment, transaction entries).
  const newPatient = async (family: string): Promise<string> =>
    (await call<{ id: string }>('POST', '/fhir/Patient', { resourceType: 'Patient', name: [{ family: `${family}-${tag}` }], birthDate: '1943-01-01' })).body.id;
  const apptFor = (patientId: string, slotId: string, status: Appointment['status'] = 'booked'): Appointment => ({
    resourceType: 'Appointment', status, slot: [{ reference: `Slot/${slotId}` }], participant: [{ actor: { reference: `Patient/${patientId}` }, status: 'accepted' }],
  });
  const hold = (patientId: string, slotId: string, extra: Parameters['parameter'] = []) =>
    call<Answer>('POST', '/fhir/Appointment/$hold', {
      resourceType: 'Parameters', parameter: [{ name: 'appt-resource', resource: { ...apptFor(patientId, slotId, 'proposed') } }, ...(extra ?? [])],
    } satisfies Parameters);
  const ticketStatus = async (ref: string): Promise<string> => (await t.hub.db.query<{ status: string }>('SELECT status FROM invitation_ticket WHERE ref = $1', [ref])).rows[0]!.status;
  const appointmentsOf = async (patientId: string): Promise<number> => ((await call<Bundle>('GET', `/fhir/Appointment?patient=Patient/${patientId}`)).body.entry ?? []).length;
  const provenanceOf = async (apptId: string): Promise<Provenance | undefined> =>
    (await t.hub.db.query<{ content: Provenance }>(
      `SELECT content FROM fhir_resource WHERE resource_type = 'Provenance' AND NOT deleted AND content->'target'->0->>'reference' LIKE $1`, [`Appointment/${apptId}/_history/%`],
    )).rows[0]?.content;

  it('$hold outside the rules: refused and nothing held; with override-reason held and audited, and its $book needs no reason again', async () => {
    const patient = await newPatient('Holder');
    const slot = writes.slotIds[0]!;
    const before = await taken(slot);
    const refused = await hold(patient, slot);
    expect(refused.status).toBe(403);
    expect(codes(refused.body)).toEqual(['INVITATION_REQUIRED']);
    expect(refused.body.issue![0]!.diagnostics).toContain('override-reason');
    expect(await taken(slot)).toBe(before);

    const reason = 'Housebound, the carer can only bring him on this day';
    const held = await hold(patient, slot, [overrideReasonParam(reason)]);
    expect(held.status).toBe(200);
    const pending = held.body.entry![0]!.resource as Appointment;
    expect(pending.status).toBe('pending');
    expect(await taken(slot)).toBe(before + 1);
    const audit = await auditOf(patient, (e) => (e.outcomeDesc ?? '').includes('held outside the fairness rules'));
    expect(audit.outcomeDesc).toContain(`(NOT_REGISTERED); reason: ${reason}`);
    expect(audit.agent.some((a) => a.who?.reference === staffRef)).toBe(true);
    expect(audit.entity?.some((x) => x.what?.reference === `Appointment/${pending.id}`)).toBe(true);

    // Confirming that hold for the same person: the hold's audited reason carries over, and is audited again.
    const booked = await call<Answer>('POST', '/fhir/Appointment/$book', { resourceType: 'Parameters', parameter: [{ name: 'appt-id', valueString: `Appointment/${pending.id}` }] });
    expect(booked.status).toBe(200);
    expect(booked.body.entry![0]!.resource).toMatchObject({ id: pending.id, status: 'booked' });
    const confirmed = await auditOf(patient, (e) => (e.outcomeDesc ?? '').includes(`on the override given at its hold (Appointment/${pending.id})`));
    expect(confirmed.outcomeDesc).toContain(`booked outside the fairness rules (NOT_REGISTERED)`);
    expect(confirmed.outcomeDesc).toContain(reason);
    expect(await bookingsOf(patient)).toBe(1);
    expect(await taken(slot)).toBe(before + 1);
  }, 60_000);

  it('$hold within the rules holds without a reason; the $book confirming it uses the invitation', async () => {
    const person = await register('HoldInvited');
    const ticket = await invite(person.registrationId, -3_600_000);
    const held = await hold(person.patientId, writes.slotIds[1]!);
    expect(held.status).toBe(200);
    const pending = held.body.entry![0]!.resource as Appointment;
    expect(await ticketStatus(ticket.ref)).not.toBe('used');
    const booked = await call<Answer>('POST', '/fhir/Appointment/$book', { resourceType: 'Parameters', parameter: [{ name: 'appt-id', valueString: `Appointment/${pending.id}` }] });
    expect(booked.status).toBe(200);
    expect(await ticketStatus(ticket.ref)).toBe('used');
  }, 60_000);

  it('POST Appointment within the rules: written without a reason, the invitation used and the confirmation mailed', async () => {
    const email = `posted-${tag}@example.org`;
    const person = await register('Posted', { email, confirmationBy: 'email' });
    const ticket = await invite(person.registrationId, -3_600_000);
    const written = await call<Appointment>('POST', '/fhir/Appointment', apptFor(person.patientId, writes.slotIds[2]!));
    expect(written.status).toBe(201);
    expect(written.body.status).toBe('booked');
    expect(await ticketStatus(ticket.ref)).toBe('used');
    const mail = await mailbox.waitFor((m) => m.to.includes(email));
    expect(mail.subject.length).toBeGreaterThan(0);
    // The invitation is used: another booked write for the person is outside the rules, and says how to give a reason.
    const twice = await call<Answer>('POST', '/fhir/Appointment', apptFor(person.patientId, writes.slotIds[3]!));
    expect(twice.status).toBe(403);
    expect(codes(twice.body)).toEqual(['INVITATION_REQUIRED']);
    expect(twice.body.issue![0]!.diagnostics).toContain('X-Provenance');
  }, 60_000);

  it('POST Appointment outside the rules: refused, nothing written; with an X-Provenance reason written, audited and its Provenance stored', async () => {
    const patient = await newPatient('Phoned');
    const slot = writes.slotIds[4]!;
    const before = await taken(slot);
    const refused = await call<Answer>('POST', '/fhir/Appointment', apptFor(patient, slot));
    expect(refused.status).toBe(403);
    expect(codes(refused.body)).toEqual(['INVITATION_REQUIRED']);
    expect(refused.body.issue![0]!.diagnostics).toContain('NOT_REGISTERED');
    expect(refused.body.issue![0]!.expression).toEqual(['X-Provenance']);
    expect(await taken(slot)).toBe(before);
    expect(await appointmentsOf(patient)).toBe(0);

    const reason = 'Referred by her doctor, no internet at home';
    const written = await call<Appointment>('POST', '/fhir/Appointment', apptFor(patient, slot), xProvenance(reason, { agent: [{ who: { display: 'front desk, phone line 2' } }] }));
    expect(written.status).toBe(201);
    expect(await taken(slot)).toBe(before + 1);
    const audit = await auditOf(patient, (e) => (e.outcomeDesc ?? '').includes(reason));
    expect(audit.outcomeDesc).toContain('booked outside the fairness rules (NOT_REGISTERED)');
    expect(audit.agent.some((a) => a.who?.reference === staffRef)).toBe(true);
    expect(audit.entity?.some((x) => x.what?.reference === `Appointment/${written.body.id}`)).toBe(true);
    const prov = await provenanceOf(written.body.id!);
    expect(prov?.reason?.[0]?.text).toBe(reason);
    expect(prov?.agent.map((a) => a.who.reference ?? a.who.display)).toEqual(['front desk, phone line 2', staffRef]);
  }, 60_000);

  it('an unusable X-Provenance is refused 400 naming the header, and writes nothing', async () => {
    const patient = await newPatient('BadHeader');
    const slot = writes.slotIds[5]!;
    const before = await taken(slot);
    const headers = [
      '{not json',
      JSON.stringify({ resourceType: 'Patient', reason: [{ text: 'A reason long enough to count' }] }),
      JSON.stringify({ resourceType: 'Provenance', reason: [{ text: 'short' }] }),
      JSON.stringify({ resourceType: 'Provenance', target: [{ reference: 'Appointment/another' }], reason: [{ text: 'A reason long enough to count' }] }),
    ];
    for (const header of headers) {
      const r = await call<OperationOutcome>('POST', '/fhir/Appointment', apptFor(patient, slot), { 'x-provenance': header });
      expect(`${r.status} ${header}`).toBe(`400 ${header}`);
      expect(r.body.issue[0]!.expression?.[0]).toMatch(/^X-Provenance/);
    }
    expect(await taken(slot)).toBe(before);
    expect(await appointmentsOf(patient)).toBe(0);
    // On an update the target may name the Appointment written, and nothing else.
    const written = await call<Appointment>('POST', '/fhir/Appointment', apptFor(patient, slot), xProvenance());
    expect(written.status).toBe(201);
    const cancel = { ...written.body, status: 'cancelled' as const };
    // A patient's own app may not attach a Provenance: the hub keeps what it says with the record.
    const patientToken = (await issueAccessToken(t.hub.db, { issuer: t.url, audience: t.fhirUrl }, { client_id: 'vaxhub-signup', scope: 'patient/Appointment.cruds', kind: 'patient', patient }, 600)).token;
    const asPatient = await fetch(`${t.fhirUrl}/Appointment/${written.body.id}`, {
      method: 'PUT', headers: { authorization: `Bearer ${patientToken}`, 'content-type': 'application/fhir+json', ...xProvenance() }, body: JSON.stringify(cancel),
    });
    expect(asPatient.status).toBe(403);
    expect(((await asPatient.json()) as OperationOutcome).issue[0]!.expression).toEqual(['X-Provenance']);
    const elsewhere = await call<OperationOutcome>('PUT', `/fhir/Appointment/${written.body.id}`, cancel, xProvenance(undefined, { target: [{ reference: 'Appointment/another' }] }));
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.body.issue[0]!.diagnostics).toContain('is not this write');
    expect((await call<Appointment>('GET', `/fhir/Appointment/${written.body.id}`)).body.status).toBe('booked');
    const self = await call<Appointment>('PUT', `/fhir/Appointment/${written.body.id}`, cancel, xProvenance('Cancelled at her daughter\'s request', { target: [{ reference: `Appointment/${written.body.id}` }] }));
    expect(self.status).toBe(200);
    expect(await taken(slot)).toBe(before);
  }, 60_000);

  it('PUT: moving, checking in and cancelling need no reason; making a cancelled booking active again does, given by X-Provenance', async () => {
    const patient = await newPatient('Changer');
    const first = await call<Appointment>('POST', '/fhir/Appointment', apptFor(patient, writes.slotIds[6]!), xProvenance());
    expect(first.status).toBe(201);
    const moved = await call<Appointment>('PUT', `/fhir/Appointment/${first.body.id}`, { ...first.body, slot: [{ reference: `Slot/${writes.slotIds[7]}` }] });
    expect(moved.status).toBe(200);
    expect(await bookingsOf(patient)).toBe(1);
    const arrived = await call<Appointment>('PUT', `/fhir/Appointment/${first.body.id}`, { ...moved.body, status: 'arrived' });
    expect(arrived.status).toBe(200);
    const cancelled = await call<Appointment>('PUT', `/fhir/Appointment/${first.body.id}`, { ...arrived.body, status: 'cancelled' });
    expect(cancelled.status).toBe(200);
    expect(await bookingsOf(patient)).toBe(0);
    const before = await taken(writes.slotIds[7]!);
    const again = await call<Answer>('PUT', `/fhir/Appointment/${first.body.id}`, { ...cancelled.body, status: 'booked' });
    expect(again.status).toBe(403);
    expect(codes(again.body)).toEqual(['INVITATION_REQUIRED']);
    expect(await bookingsOf(patient)).toBe(0);
    expect(await taken(writes.slotIds[7]!)).toBe(before);
    const reason = 'Cancelled by mistake at the desk, she still comes';
    const restored = await call<Appointment>('PUT', `/fhir/Appointment/${first.body.id}`, { ...cancelled.body, status: 'booked' }, xProvenance(reason));
    expect(restored.status).toBe(200);
    expect(await bookingsOf(patient)).toBe(1);
    const audit = await auditOf(patient, (e) => (e.outcomeDesc ?? '').includes(reason));
    expect(audit.outcomeDesc).toContain('booked outside the fairness rules (NOT_REGISTERED)');
    expect(audit.agent.some((a) => a.who?.reference === staffRef)).toBe(true);
  }, 60_000);

  it('PUT within the rules (an update that creates): the invitation is used', async () => {
    const person = await register('PutInvited');
    const ticket = await invite(person.registrationId, -3_600_000);
    const id = `put-${tag}`;
    const written = await call<Appointment>('PUT', `/fhir/Appointment/${id}`, { ...apptFor(person.patientId, writes.slotIds[5]!), id });
    expect(written.status).toBe(201);
    expect(await ticketStatus(ticket.ref)).toBe('used');
  }, 60_000);

  it('a PUT confirming a hold made on an override needs no reason again; a backend system client\'s writes pass as before', async () => {
    const patient = await newPatient('HeldPut');
    const held = await hold(patient, writes.slotIds[6]!, [overrideReasonParam('Hospital discharge list, held while on the phone')]);
    expect(held.status).toBe(200);
    const pending = held.body.entry![0]!.resource as Appointment;
    const confirmed = await call<Appointment>('PUT', `/fhir/Appointment/${pending.id}`, { ...pending, status: 'booked' });
    expect(confirmed.status).toBe(200);
    expect(confirmed.body.status).toBe('booked');
    const audit = await auditOf(patient, (e) => (e.outcomeDesc ?? '').includes(`on the override given at its hold (Appointment/${pending.id})`));
    expect(audit.outcomeDesc).toContain('Hospital discharge list, held while on the phone');

    // An EHR writing an appointment it made in its own scheduling is an integration, not staff booking for someone.
    const ehr = (await issueAccessToken(t.hub.db, { issuer: t.url, audience: t.fhirUrl }, { client_id: `ehr-${tag}`, scope: 'system/Appointment.cru system/Patient.r', kind: 'system' }, 600)).token;
    const other = await newPatient('FromEhr');
    const r = await fetch(`${t.fhirUrl}/Appointment`, {
      method: 'POST', headers: { authorization: `Bearer ${ehr}`, 'content-type': 'application/fhir+json' }, body: JSON.stringify(apptFor(other, writes.slotIds[6]!)),
    });
    expect(r.status).toBe(201);
    expect(await bookingsOf(other)).toBe(1);
  }, 60_000);

  it('a transaction entry is refused outside the rules, and written under the outer request\'s X-Provenance', async () => {
    const patient = await newPatient('Bundled');
    const slot = writes.slotIds[3]!;
    const bundle = { resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'POST', url: 'Appointment' }, resource: apptFor(patient, slot) }] };
    const before = await taken(slot);
    const refused = await call<Answer>('POST', '/fhir', bundle);
    expect(refused.status).toBe(403);
    expect(codes(refused.body)).toContain('INVITATION_REQUIRED'); // after the issue naming the failed entry
    expect(await taken(slot)).toBe(before);
    expect(await appointmentsOf(patient)).toBe(0);
    const reason = 'Outreach list from the shelter, booked in one go';
    const done = await call<Bundle>('POST', '/fhir', bundle, xProvenance(reason));
    expect(done.status).toBe(200);
    expect(done.body.entry?.[0]?.response?.status).toMatch(/^201/);
    expect(await taken(slot)).toBe(before + 1);
    const audit = await auditOf(patient, (e) => (e.outcomeDesc ?? '').includes(reason));
    expect(audit.agent.some((a) => a.who?.reference === staffRef)).toBe(true);
  }, 60_000);
});
