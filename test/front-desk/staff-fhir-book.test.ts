/**
 * Issue 21: a staff call to FHIR `Appointment/$book` keeps to the fairness rules the public books under, as the
 * console's front desk does (src/scheduling/opening-night/staff-book.ts), on a real hub with the real access policy
 * and booking gate, on PGlite and PostgreSQL. Outside the rules it is refused with the public's codes
 * (INVITATION_REQUIRED, NOT_ELIGIBLE, OUTSIDE_WINDOW) and books nothing; with `override-reason` it books and the
 * reason is audited naming the staff member; within the rules the person's invitation is used and the confirmation
 * mailed. Supply and the dose interval hold for an override too.
 */
import { randomBytes } from 'node:crypto';
import type { AuditEvent, Bundle, OperationOutcome, Parameters } from 'fhir/r4';
import { ADMIN_CLIENT_ID } from '../../src/apps/wiring.js';
import { searchAudit } from '../../src/auth/audit.js';
import { addStaff } from '../../src/auth/staff.js';
import { issueAccessToken } from '../../src/auth/token-service.js';
import { issueTicket } from '../../src/scheduling/invitations/tickets.js';
import { scheduleWindow } from '../../src/scheduling/invitations/waves.js';
import { loadProducts } from '../../src/scheduling/products.js';
import { backends, type TestHub } from '../helpers/hub.js';
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

  const call = async <T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${t.url}${path}`, {
      method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/fhir+json' }) },
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
});
