/**
 * Opening night end to end through the running hub (real SMART access policy, real SMTP server), on PGlite and on
 * PostgreSQL: register -> operator draw -> invitation mail -> one-time code mail -> claim with code + date of birth
 * -> waiting room -> admitted -> $hold / $book with the claim token -> booked, confirmation mailed.
 * And every way round the gate is refused with a coded OperationOutcome and an AuditEvent: a forwarded ticket,
 * a replayed ticket, a ticket outside its window, no ticket, another person's ticket, no waiting-room place,
 * plain POST Appointment and a transaction Bundle without a ticket.
 */
import type { Bundle, OperationOutcome, Parameters } from 'fhir/r4';
import { dispatch } from '../../src/fhir/router.js';
import type { Principal } from '../../src/auth/principal.js';
import { isOperationOutcomeError } from '../../src/fhir/outcomes.js';
import { issueAccessToken } from '../../src/auth/token-service.js';
import { loadProducts } from '../../src/scheduling/products.js';
import { verifyDraw } from '../../src/scheduling/invitations/lottery.js';
import { ADMIN, backends, type TestHub } from '../helpers/hub.js';
import { seedClinic } from '../scheduling/support.js';
import { startMailbox, startOpeningNightHub } from './opening-night-hub.js';

// One test client on loopback plays many people: per-IP limits are exercised in waiting-room.test.ts.
process.env.WAITING_ROOM_EVENT_CACHE_MS = '0';
process.env.SIGNUP_PER_IP_PER_MINUTE = '6000';
process.env.CLAIM_PER_IP_PER_MINUTE = '6000';

const HOUR = 3_600_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const codeOf = (oo: OperationOutcome): string | undefined => oo.issue?.[0]?.details?.coding?.[0]?.code;

describe.each(backends())('opening night end to end on %s', (backend) => {
  let rig: TestHub;
  let mailbox: Awaited<ReturnType<typeof startMailbox>>;
  let slotIds: string[];
  const uniq = Math.random().toString(36).slice(2, 8);

  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${rig.url}${path}`, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': path.startsWith('/fhir') ? 'application/fhir+json' : 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  };
  const book = (slotId: string, headers: Record<string, string>, patientId?: string) =>
    call('POST', '/fhir/Appointment/$book', {
      resourceType: 'Parameters',
      parameter: [{ name: 'appt-id', valueString: `Appointment/slot.${slotId}` }, ...(patientId ? [{ name: 'patient-id', valueString: `Patient/${patientId}` }] : [])],
    } satisfies Parameters, headers);
  /** The refusal's code, from a plain OperationOutcome or an Argonaut searchset carrying one. */
  const refusalCode = (body: OperationOutcome | Bundle): string | undefined =>
    body.resourceType === 'OperationOutcome' ? codeOf(body) : codeOf(body.entry!.find((e) => e.resource?.resourceType === 'OperationOutcome')!.resource as OperationOutcome);
  async function audited(fragment: string): Promise<void> {
    for (let i = 0; i < 50; i++) {
      const r = await rig.hub.db.query(`SELECT 1 FROM audit_event WHERE concat_ws(' ', what, query, detail) LIKE $1`, [`%${fragment}%`]);
      if (r.rowCount > 0) return;
      await sleep(100);
    }
    throw new Error(`no AuditEvent mentioning ${fragment}`);
  }
  async function register(who: string, birthDate: string, occupation: string, extra: Record<string, string> = {}) {
    const r = await call('POST', '/signup/register', {
      name: { family: `${who}-${uniq}`, given: ['Test'] }, birthDate, email: `${who}-${uniq}@example.org`, postalCode: '01201', answers: { occupation },
    }, extra);
    expect(r.status).toBe(201);
    return r.body as { registrantId: string; patientId: string; statusToken: string; status: { text: string; registrationNumber: string } };
  }
  /** Runs a committed draw (after its commitment instant) and returns the published view. */
  async function draw(label: string, invitations: number, windowId: string) {
    const c = await call('POST', '/admin/draws', { label, invitations, windowId, useEquityWeights: true }, ADMIN);
    expect(c.status).toBe(201);
    expect(c.body.seedHash).toMatch(/^[0-9a-f]{64}$/);
    const before = await call('GET', `/draws/${c.body.id}`);
    expect(before.body).toMatchObject({ status: 'committed', seedHash: c.body.seedHash });
    expect(before.body.published).toBeUndefined(); // the seed stays secret until the draw runs
    await sleep(5);
    expect((await call('POST', `/admin/draws/${c.body.id}/run`, {}, ADMIN)).status).toBe(200);
    return (await call('GET', `/draws/${c.body.id}`)).body;
  }
  const ticketIn = (text: string): string => /\/invitation\/([A-Za-z0-9_-]{16,64})/.exec(text)![1]!;
  async function claim(who: string, birthDate: string): Promise<string> {
    const invite = await mailbox.waitFor((m) => m.to.includes(`${who}-${uniq}@example.org`) && /invited/i.test(m.subject));
    const ticket = ticketIn(invite.text);
    expect((await call('POST', `/signup/tickets/${ticket}/code`)).status).toBe(202);
    const codeMail = await mailbox.waitFor((m) => m.to.includes(`${who}-${uniq}@example.org`) && /code/i.test(m.subject));
    const code = /\b(\d{6})\b/.exec(codeMail.text)![1]!;
    const r = await call('POST', `/signup/tickets/${ticket}/claim`, { code, birthDate });
    expect(r.status).toBe(200);
    return r.body.claimToken as string;
  }
  async function admittedPlace(claimToken: string, eventId: string): Promise<string> {
    const j = await call('POST', `/waiting-room/join?event=${eventId}`, undefined, { 'x-claim-token': claimToken });
    expect([200, 201]).toContain(j.status);
    const token = j.body.token as string;
    for (let i = 0; i < 100; i++) {
      const s = await call('GET', '/waiting-room/status', undefined, { 'x-queue-token': token });
      expect(s.status).toBe(200);
      if (s.body.admitted) return token;
      await sleep(200);
    }
    throw new Error('never admitted');
  }

  beforeAll(async () => {
    mailbox = await startMailbox();
    rig = await startOpeningNightHub(backend, { smtpUrl: mailbox.url });
    const ctx = { db: rig.hub.db, repo: rig.hub.repo, products: loadProducts(), holdSeconds: 300 };
    slotIds = (await seedClinic(ctx, { cvx: '309' /* single dose: no next dose to plan */, slots: 2, capacity: 3, doses: 10, day: '2030-06-03' })).slotIds;
  });
  afterAll(async () => {
    await rig?.close();
    await mailbox?.close();
  });

  it('books through the whole flow and refuses every way round the gate, each coded and audited', async () => {
    const now = Date.now();
    // Cohort windows: 1a open now; 1b opens tomorrow.
    const open = await call('POST', '/admin/windows', { name: `1a ${uniq}`, opensAt: new Date(now - HOUR).toISOString(), closesAt: new Date(now + HOUR).toISOString(), criteria: { tiers: ['1a'] } }, ADMIN);
    expect(open.status).toBe(201);
    const later = await call('POST', '/admin/windows', { name: `1b ${uniq}`, opensAt: new Date(now + 24 * HOUR).toISOString(), closesAt: new Date(now + 48 * HOUR).toISOString(), criteria: { tiers: ['1b'] } }, ADMIN);
    expect((await call('GET', '/admin/windows', undefined, ADMIN)).body.map((w: { id: string }) => w.id)).toEqual(expect.arrayContaining([open.body.id, later.body.id]));
    expect((await call('POST', '/admin/windows', { name: 'x' }, ADMIN)).status).toBe(400);
    expect((await call('POST', '/admin/draws', { label: 'x', invitations: 1 })).status).toBe(401);

    // Pre-registration: Alex for themself, then a family member (Blair) with Alex's status token; Drew is tier 1b.
    const alex = await register('alex', '1980-05-12', 'healthcare-personnel');
    expect(alex.status.text).toBe('registered, tier 1a, not yet invited');
    const blair = await register('blair', '1984-09-03', 'healthcare-personnel', { 'x-registrant-token': alex.statusToken });
    const drew = await register('drew', '1990-01-20', 'education');
    // Alex registered again by someone else: the answer is shaped exactly like a new registration and holds nothing
    // of Alex's; Alex is mailed instead (issue 16 item 9).
    const repeat = await call('POST', '/signup/register', { name: { family: `alex-${uniq}`, given: ['Test'] }, birthDate: '1980-05-12', email: `x-${uniq}@example.org`, postalCode: '01201', answers: { occupation: 'healthcare-personnel' } });
    expect(repeat.status).toBe(201);
    expect(Object.keys(repeat.body).sort()).toEqual(Object.keys(alex).sort());
    // Its registration number is its own (short, like Alex's), so it holds nothing of Alex's either.
    expect(repeat.body.status).toEqual({ ...alex.status, registrantId: repeat.body.registrantId, registrationNumber: repeat.body.status.registrationNumber });
    expect(repeat.body.status.registrationNumber).toMatch(/^R-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    expect(repeat.body.status.registrationNumber).not.toBe(alex.status.registrationNumber);
    for (const secret of [alex.registrantId, alex.patientId, alex.statusToken]) expect(JSON.stringify(repeat.body)).not.toContain(secret);
    expect((await call('GET', '/signup/status', undefined, { 'x-registrant-token': repeat.body.statusToken })).body).toMatchObject({ status: 'registered', tier: '1a', family: [] });
    const told = await rig.hub.db.query<{ body: string }>("SELECT body FROM notification_outbox WHERE recipient = $1 AND kind = 'registration-repeated'", [`alex-${uniq}@example.org`]);
    expect(told.rows).toHaveLength(1);
    expect(told.rows[0]!.body).toContain(alex.status.registrationNumber);
    expect((await call('POST', '/signup/register', { name: 'nobody' })).status).toBe(400);
    const mine = await call('GET', '/signup/status', undefined, { 'x-registrant-token': alex.statusToken });
    expect(mine.body).toMatchObject({ registrantId: alex.registrantId, tier: '1a', status: 'registered', family: [{ registrantId: blair.registrantId }] });
    expect((await call('GET', `/signup/status?registrant=${alex.registrantId}&birthDate=1999-01-01`)).status).toBe(404);
    expect((await call('GET', `/signup/status?registrant=${drew.registrantId}&birthDate=1990-01-20`)).body.tier).toBe('1b');

    // Operator draws for the open 1a window; the audit view recomputes to the same selection.
    const d1 = await draw(`1a ${uniq}`, 2, open.body.id);
    expect(d1.published.selected).toEqual(expect.arrayContaining([alex.registrantId, blair.registrantId]));
    expect(verifyDraw(d1.published)).toEqual({ ok: true, problems: [] });
    expect(d1.verification.ok).toBe(true);
    const d2 = await draw(`1b ${uniq}`, 1, later.body.id);
    expect(d2.published.selected).toContain(drew.registrantId);
    expect((await call('GET', '/signup/status', undefined, { 'x-registrant-token': alex.statusToken })).body.status).toBe('invited');

    // A forwarded link: even with the code, the wrong date of birth is refused (and burns an attempt).
    const blairInvite = await mailbox.waitFor((m) => m.to.includes(`blair-${uniq}@example.org`) && /invited/i.test(m.subject));
    const blairTicket = ticketIn(blairInvite.text);
    expect((await call('POST', `/signup/tickets/${blairTicket}/code`)).status).toBe(202);
    const blairCode = /\b(\d{6})\b/.exec((await mailbox.waitFor((m) => m.to.includes(`blair-${uniq}@example.org`) && /code/i.test(m.subject))).text)![1]!;
    const forwarded = await call('POST', `/signup/tickets/${blairTicket}/claim`, { code: blairCode, birthDate: '1970-01-01' });
    expect(forwarded.status).toBe(403);
    expect(codeOf(forwarded.body)).toBe('INVITATION_INVALID');
    await audited('bad-code');
    expect(codeOf((await call('POST', '/signup/tickets/not-a-real-ticket-id-000/code')).body)).toBe('INVITATION_INVALID');

    // The waiting room opens in a moment; people arriving before are in the pre-queue.
    const ev = await call('POST', '/waiting-room/admin/events', { id: `ev-${uniq}`, name: 'Opening night', opensAt: new Date(Date.now() + 1500).toISOString(), ratePerMinute: 600, maxActive: 50 }, ADMIN);
    expect(ev.status).toBe(200);
    const alexClaim = await claim('alex', '1980-05-12');
    const blairClaim = (await call('POST', `/signup/tickets/${blairTicket}/claim`, { code: blairCode, birthDate: '1984-09-03' })).body.claimToken as string;
    expect(blairClaim).toBeTruthy();
    const drewClaim = await claim('drew', '1990-01-20');

    // No ticket at all, before even queueing.
    const none = await book(slotIds[0]!, {});
    expect(none.status).toBe(403);
    expect(refusalCode(none.body)).toBe('INVITATION_REQUIRED');
    await audited('INVITATION_REQUIRED');
    // A ticket whose cohort window is not open yet.
    const outside = await book(slotIds[0]!, { 'x-claim-token': drewClaim });
    expect(outside.status).toBe(403);
    expect(refusalCode(outside.body)).toBe('OUTSIDE_WINDOW');
    await audited('outside-window');
    // A valid ticket but no place in the waiting room.
    const unqueued = await book(slotIds[0]!, { 'x-claim-token': alexClaim });
    expect(unqueued.status).toBe(403);
    expect(refusalCode(unqueued.body)).toBe('QUEUE_TOKEN_INVALID');
    await audited('bad-queue-token');

    // Alex queues, is admitted, holds and books with the claim token.
    const alexPlace = await admittedPlace(alexClaim, ev.body.id);
    const held = await call('POST', '/fhir/Appointment/$hold', { resourceType: 'Parameters', parameter: [{ name: 'appt-id', valueString: `Appointment/slot.${slotIds[0]}` }] }, { 'x-claim-token': alexClaim, 'x-queue-token': alexPlace });
    expect(`${held.status} ${JSON.stringify(held.body).slice(0, 900)}`).toMatch(/^200 /);
    const pending = held.body.entry[0].resource;
    expect(pending).toMatchObject({ status: 'pending' });
    expect(pending.participant.some((p: { actor?: { reference?: string } }) => p.actor?.reference === `Patient/${alex.patientId}`)).toBe(true);
    const booked = await call('POST', '/fhir/Appointment/$book', { resourceType: 'Parameters', parameter: [{ name: 'appt-id', valueString: `Appointment/${pending.id}` }] }, { 'x-claim-token': alexClaim, 'x-queue-token': alexPlace });
    expect(booked.status).toBe(200);
    expect(booked.body.entry[0].resource).toMatchObject({ id: pending.id, status: 'booked' });
    const ticketRow = await rig.hub.db.query<{ status: string }>(`SELECT t.status FROM invitation_ticket t WHERE t.registrant_id = $1`, [alex.registrantId]);
    expect(ticketRow.rows.map((r) => r.status)).toEqual(['used']);
    expect((await call('GET', '/signup/status', undefined, { 'x-registrant-token': alex.statusToken })).body.status).toBe('booked');
    await mailbox.waitFor((m) => m.to.includes(`alex-${uniq}@example.org`) && /booked/i.test(m.subject));

    // The same ticket again (a replay, even from an admitted place): used.
    const replay = await book(slotIds[1]!, { 'x-claim-token': alexClaim, 'x-queue-token': alexPlace });
    expect(replay.status).toBe(409);
    expect(refusalCode(replay.body)).toBe('INVITATION_USED');
    await audited('replayed-ticket');

    // Blair's ticket used to book for Drew's patient record: another person's ticket.
    const blairPlace = await admittedPlace(blairClaim, ev.body.id);
    const foreign = await book(slotIds[1]!, { 'x-claim-token': blairClaim, 'x-queue-token': blairPlace }, drew.patientId);
    expect(foreign.status).toBe(403);
    expect(refusalCode(foreign.body)).toBe('INVITATION_INVALID');
    await audited('foreign-ticket');
    // Alex's admitted place does not carry Blair's booking either.
    const otherPlace = await book(slotIds[1]!, { 'x-claim-token': blairClaim, 'x-queue-token': alexPlace });
    expect(refusalCode(otherPlace.body)).toBe('QUEUE_TOKEN_INVALID');

    // Plain FHIR writes without a ticket: a patient's own token, directly and inside a transaction Bundle.
    const patient: Principal = {
      kind: 'patient', patientId: drew.patientId, clientId: 'test-app', scope: 'patient/Appointment.cru',
      scopes: [{ context: 'patient', resourceType: 'Appointment', permissions: { c: true, r: true, u: true, d: false, s: false }, restrictions: {}, raw: 'patient/Appointment.cru' }],
    };
    const appt = { resourceType: 'Appointment', status: 'booked', slot: [{ reference: `Slot/${slotIds[1]}` }], participant: [{ actor: { reference: `Patient/${drew.patientId}` }, status: 'accepted' }] };
    const direct = await dispatch({ method: 'POST', path: 'Appointment', query: {}, body: appt, headers: {}, principal: patient, baseUrl: rig.hub.config.fhirBaseUrl }, rig.hub.fhir).catch((e: unknown) => e);
    expect(isOperationOutcomeError(direct) && direct.code).toBe('INVITATION_REQUIRED');
    const bundle = { resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'POST', url: 'Appointment' }, resource: appt }] };
    const inTx = await dispatch({ method: 'POST', path: '', query: {}, body: bundle, headers: { 'x-claim-token': drewClaim }, principal: patient, baseUrl: rig.hub.config.fhirBaseUrl }, rig.hub.fhir).catch((e: unknown) => e);
    expect(isOperationOutcomeError(inTx) && inTx.status).toBe(403);
    const plain = await call('POST', '/fhir/Appointment', appt, { 'x-claim-token': blairClaim, 'x-queue-token': blairPlace });
    expect(plain.status).toBe(401); // anonymous callers book through $hold/$book, never by writing Appointments

    // Blair books a proposed place directly (no hold first) with her own ticket: a single-dose product, so the
    // claim has no next dose to plan; the ticket is consumed all the same, and a second try is a replay.
    const blairBooked = await book(slotIds[1]!, { 'x-claim-token': blairClaim, 'x-queue-token': blairPlace });
    expect(`${blairBooked.status} ${JSON.stringify(blairBooked.body).slice(0, 600)}`).toMatch(/^200 /);
    expect(blairBooked.body.entry[0].resource).toMatchObject({ status: 'booked' });
    const blairTicketRow = await rig.hub.db.query<{ status: string }>(`SELECT status FROM invitation_ticket WHERE registrant_id = $1`, [blair.registrantId]);
    expect(blairTicketRow.rows.map((r) => r.status)).toEqual(['used']);
    await mailbox.waitFor((m) => m.to.includes(`blair-${uniq}@example.org`) && /booked/i.test(m.subject));
    expect(refusalCode((await book(slotIds[0]!, { 'x-claim-token': blairClaim, 'x-queue-token': blairPlace })).body)).toBe('INVITATION_USED');

    // Staff book without a ticket or a queue place, but under the same rules (issue 21): Drew's window is not open,
    // so staff meet the code Drew met, and book only with an audited reason. One place each was taken by Alex, Blair
    // and staff.
    const staffRefused = await book(slotIds[1]!, ADMIN, drew.patientId);
    expect(staffRefused.status).toBe(403);
    expect(refusalCode(staffRefused.body)).toBe('OUTSIDE_WINDOW');
    const staff = await call('POST', '/fhir/Appointment/$book', {
      resourceType: 'Parameters',
      parameter: [
        { name: 'appt-id', valueString: `Appointment/slot.${slotIds[1]}` }, { name: 'patient-id', valueString: `Patient/${drew.patientId}` },
        { name: 'override-reason', valueString: 'Teacher on a school trip during his window' },
      ],
    } satisfies Parameters, ADMIN);
    expect(staff.status).toBe(200);
    await audited('Teacher on a school trip during his window');
    const taken = await rig.hub.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM booking WHERE slot_id = ANY($1::text[]) AND active`, [slotIds]);
    expect(Number(taken.rows[0]!.n)).toBe(3);


    // Alex moves their own booking (signed in with a patient token): no invitation needed, the old place is freed.
    const cfg = { issuer: rig.url, audience: rig.hub.config.fhirBaseUrl };
    const alexToken = (await issueAccessToken(rig.hub.db, cfg, { client_id: 'vaxhub-signup', scope: 'patient/Appointment.cruds', kind: 'patient', patient: alex.patientId }, 300)).token;
    const blairToken = (await issueAccessToken(rig.hub.db, cfg, { client_id: 'vaxhub-signup', scope: 'patient/Appointment.cruds', kind: 'patient', patient: blair.patientId }, 300)).token;
    const moveParams = { resourceType: 'Parameters', parameter: [{ name: 'appt-id', valueString: `Appointment/slot.${slotIds[1]}` }, { name: 'cancelled-appt-id', valueString: `Appointment/${pending.id}` }] };
    const stolen = await call('POST', '/fhir/Appointment/$book', moveParams, { authorization: `Bearer ${blairToken}` });
    expect(stolen.status).toBe(403);
    const moved = await call('POST', '/fhir/Appointment/$book', moveParams, { authorization: `Bearer ${alexToken}` });
    expect(`${moved.status} ${JSON.stringify(moved.body).slice(0, 600)}`).toMatch(/^200 /);
    expect(moved.body.entry[0].resource).toMatchObject({ status: 'booked' });
    const old = await rig.hub.db.query<{ status: string }>('SELECT status FROM booking WHERE appointment_id = $1', [pending.id]);
    expect(old.rows[0]!.status).toBe('cancelled');

    // Every refusal shows in /metrics (operators only by default).
    expect((await fetch(`${rig.url}/metrics`)).status).toBe(401);
    const metrics = await (await fetch(`${rig.url}/metrics`, { headers: ADMIN })).text();
    for (const code of ['INVITATION_REQUIRED', 'OUTSIDE_WINDOW', 'INVITATION_USED', 'INVITATION_INVALID', 'QUEUE_TOKEN_INVALID']) {
      expect(metrics).toMatch(new RegExp(`vaxhub_booking_gate_refusals_total\\{code="${code}"\\} [1-9]`));
    }
    expect(metrics).toMatch(/vaxhub_abuse_attempts_total\{kind="foreign-ticket"\} [1-9]/);
    expect(metrics).toMatch(/process_resident_memory_bytes \d+/);
    expect(metrics).toMatch(/vaxhub_outbox_messages\{status="sent"\} [1-9]/);
  });
});
