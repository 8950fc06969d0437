/**
 * Issue 20: a retry with the same Idempotency-Key gets the first answer back (same status, same body) and writes
 * nothing new, whatever gate stands in front of it: for `$hold`, `$book` and sign-up, for invitation holders (who
 * have used their invitation and their waiting-room place by the time they retry), patient tokens and staff,
 * through the fast POST lane and the Express route, and for cancellations (PUT status cancelled), on both databases. A first refusal (SLOT_FULL) comes back as
 * that refusal, a key reused for another request is refused, and keys are per caller.
 */
import type { Bundle, OperationOutcome } from 'fhir/r4';
import { issueAccessToken } from '../../src/auth/token-service.js';
import { loadProducts } from '../../src/scheduling/products.js';
import { ADMIN, backends, type TestHub } from '../helpers/hub.js';
import { startOpeningNightHub } from '../opening-night/opening-night-hub.js';
import { seedClinic } from './support.js';

// One test client on loopback plays many people (per-IP limits have their own tests).
process.env.WAITING_ROOM_EVENT_CACHE_MS = '0';
process.env.SIGNUP_PER_IP_PER_MINUTE = '6000';
process.env.CLAIM_PER_IP_PER_MINUTE = '6000';

const HOUR = 3_600_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Answer {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- FHIR Bundles and OperationOutcomes alike
}

/** The coded reason of a refusal: a plain OperationOutcome, or the one in an Argonaut searchset. */
function codeOf(body: OperationOutcome | Bundle): string | undefined {
  const oo = body.resourceType === 'OperationOutcome' ? body : (body.entry?.find((e) => e.resource?.resourceType === 'OperationOutcome')?.resource as OperationOutcome | undefined);
  return oo?.issue?.[0]?.details?.coding?.[0]?.code;
}

describe.each(backends())('idempotent retries on %s', (backend) => {
  let rig: TestHub;
  let slots: string[];
  const uniq = Math.random().toString(36).slice(2, 8);
  const holders: Record<string, { patientId: string; claimToken: string; queueToken: string }> = {};

  /** `lane`: 'fast' is answered in front of Express (src/http/fast-post.ts); `?_format=json` sends it through Express. */
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}, lane: 'fast' | 'express' = 'fast'): Promise<Answer> => {
    const url = `${rig.url}${path}${lane === 'express' && path.startsWith('/fhir') ? '?_format=json' : ''}`;
    const res = await fetch(url, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': path.startsWith('/fhir') ? 'application/fhir+json' : 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  };
  const apptParams = (apptId: string) => ({ resourceType: 'Parameters', parameter: [{ name: 'appt-id', valueString: apptId }] as Array<{ name: string; valueString: string }> });
  // Staff hold and book outside the draw here (nobody named), so they give the audited reason issue 21 asks of them.
  const STAFF_REASON = { name: 'override-reason', valueString: 'Booked by the clinic desk outside the draw (test)' };
  const hold = (slotId: string, headers: Record<string, string>, lane?: 'fast' | 'express') => {
    const params = apptParams(`Appointment/slot.${slotId}`);
    if (headers.authorization === ADMIN.authorization) params.parameter.push(STAFF_REASON);
    return call('POST', '/fhir/Appointment/$hold', params, headers, lane);
  };
  const book = (apptId: string, headers: Record<string, string>, lane?: 'fast' | 'express') => {
    const params = apptParams(apptId);
    if (headers.authorization === ADMIN.authorization) params.parameter.push(STAFF_REASON);
    return call('POST', '/fhir/Appointment/$book', params, headers, lane);
  };
  const asHolder = (who: string, key: string): Record<string, string> => ({ 'x-claim-token': holders[who]!.claimToken, 'x-queue-token': holders[who]!.queueToken, 'idempotency-key': key });

  /** Everything a booking or a sign-up writes (audit events aside: every request is audited, retries included). */
  async function writes(): Promise<Record<string, number>> {
    const r = await rig.hub.db.query<Record<string, number>>(
      `SELECT (SELECT count(*)::int FROM fhir_resource) AS resources, (SELECT count(*)::int FROM fhir_history) AS versions,
              (SELECT count(*)::int FROM booking) AS bookings, (SELECT count(*)::int FROM slot_hold) AS holds,
              (SELECT COALESCE(sum(taken), 0)::int FROM slot_capacity) AS taken, (SELECT count(*)::int FROM notification_outbox) AS mails,
              (SELECT count(*)::int FROM idempotency_key) AS keys, (SELECT count(*)::int FROM registrant) AS registrants,
              (SELECT count(*)::int FROM invitation_ticket WHERE status = 'used') AS used_tickets`,
    );
    return r.rows[0]!;
  }

  /** The retry answers exactly what the first answer was, and writes nothing. */
  async function expectReplay(first: Answer, retry: () => Promise<Answer>): Promise<Answer> {
    const before = await writes();
    const again = await retry();
    expect({ status: again.status, body: again.body }).toEqual({ status: first.status, body: first.body });
    expect(await writes()).toEqual(before);
    return again;
  }

  async function mailTo(email: string, kind: string): Promise<string> {
    for (let i = 0; i < 100; i++) {
      const r = await rig.hub.db.query<{ body: string }>('SELECT body FROM notification_outbox WHERE recipient = $1 AND kind = $2 ORDER BY created_at DESC LIMIT 1', [email, kind]);
      if (r.rows[0]) return r.rows[0].body;
      await sleep(50);
    }
    throw new Error(`no ${kind} mail to ${email}`);
  }

  beforeAll(async () => {
    rig = await startOpeningNightHub(backend);
    const ctx = { db: rig.hub.db, repo: rig.hub.repo, products: loadProducts(), holdSeconds: 300 };
    // Single-dose product, one place per slot: a second booker of a slot is refused SLOT_FULL.
    slots = (await seedClinic(ctx, { cvx: '309', slots: 8, capacity: 1, doses: 20, day: '2030-06-03' })).slotIds;
    const now = Date.now();
    const win = await call('POST', '/admin/windows', { name: `1a ${uniq}`, opensAt: new Date(now - HOUR).toISOString(), closesAt: new Date(now + HOUR).toISOString(), criteria: { tiers: ['1a'] } }, ADMIN);
    expect(win.status).toBe(201);
    const people = ['ann', 'ben', 'cat', 'dan', 'eve'];
    const registered: Record<string, { patientId: string }> = {};
    for (const who of people) {
      const r = await call('POST', '/signup/register', { name: { family: `${who}-${uniq}`, given: ['Test'] }, birthDate: '1980-05-12', email: `${who}-${uniq}@example.org`, postalCode: '01201', answers: { occupation: 'healthcare-personnel' } });
      expect(r.status).toBe(201);
      registered[who] = r.body;
    }
    const draw = await call('POST', '/admin/draws', { label: `1a ${uniq}`, invitations: people.length, windowId: win.body.id, useEquityWeights: true }, ADMIN);
    expect(draw.status).toBe(201);
    await sleep(5);
    expect((await call('POST', `/admin/draws/${draw.body.id}/run`, {}, ADMIN)).status).toBe(200);
    // The waiting room is open: a holder books only once admitted, and a booking ends their place (a retry after
    // that must still get its answer).
    const ev = await call('POST', '/waiting-room/admin/events', { id: `ev-${uniq}`, name: 'Opening night', opensAt: new Date(Date.now() + 300).toISOString(), ratePerMinute: 6000, maxActive: 50 }, ADMIN);
    expect(ev.status).toBe(200);
    for (const who of people) {
      const email = `${who}-${uniq}@example.org`;
      const ticket = /\/invitation\/([A-Za-z0-9_-]{16,64})/.exec(await mailTo(email, 'invitation'))![1]!;
      expect((await call('POST', `/signup/tickets/${ticket}/code`)).status).toBe(202);
      const code = /\b(\d{6})\b/.exec(await mailTo(email, 'one-time-code'))![1]!;
      const claimed = await call('POST', `/signup/tickets/${ticket}/claim`, { code, birthDate: '1980-05-12' });
      expect(claimed.status).toBe(200);
      const claimToken = claimed.body.claimToken as string;
      const joined = await call('POST', `/waiting-room/join?event=${ev.body.id}`, undefined, { 'x-claim-token': claimToken });
      expect([200, 201]).toContain(joined.status);
      let admitted = false;
      for (let i = 0; i < 100 && !admitted; i++) {
        admitted = (await call('GET', '/waiting-room/status', undefined, { 'x-queue-token': joined.body.token })).body.admitted === true;
        if (!admitted) await sleep(100);
      }
      expect(admitted).toBe(true);
      holders[who] = { patientId: registered[who]!.patientId, claimToken, queueToken: joined.body.token };
    }
  }, 120_000);
  afterAll(async () => rig?.close());

  it("an invitation holder's $hold and $book, retried on either lane, answer the first answer and write nothing", async () => {
    const held = await hold(slots[0]!, asHolder('ann', `hold-${uniq}`));
    expect(`${held.status} ${JSON.stringify(held.body).slice(0, 400)}`).toMatch(/^200 /);
    const pending = held.body.entry[0].resource;
    expect(pending).toMatchObject({ status: 'pending' });
    const heldAgain = await expectReplay(held, () => hold(slots[0]!, asHolder('ann', `hold-${uniq}`)));
    expect(heldAgain.headers.get('expires')).toBe(held.headers.get('expires'));
    await expectReplay(held, () => hold(slots[0]!, asHolder('ann', `hold-${uniq}`), 'express'));

    const booked = await book(`Appointment/${pending.id}`, asHolder('ann', `book-${uniq}`));
    expect(booked.status).toBe(200);
    expect(booked.body.entry[0].resource).toMatchObject({ id: pending.id, status: 'booked' });
    // The invitation is used and the waiting-room place is over by now: the retry is answered all the same.
    await expectReplay(booked, () => book(`Appointment/${pending.id}`, asHolder('ann', `book-${uniq}`)));
    await expectReplay(booked, () => book(`Appointment/${pending.id}`, asHolder('ann', `book-${uniq}`), 'express'));
    // A new request (a new key) meets the gate as before: the invitation is used.
    const fresh = await book(`Appointment/slot.${slots[1]}`, asHolder('ann', `other-${uniq}`));
    expect(fresh.status).toBe(409);
    expect(codeOf(fresh.body)).toBe('INVITATION_USED');
  });

  it('a direct $book through Express is replayed through Express and through the fast lane', async () => {
    const booked = await book(`Appointment/slot.${slots[1]}`, asHolder('ben', `direct-${uniq}`), 'express');
    expect(`${booked.status} ${JSON.stringify(booked.body).slice(0, 400)}`).toMatch(/^200 /);
    expect(booked.body.entry[0].resource).toMatchObject({ status: 'booked' });
    await expectReplay(booked, () => book(`Appointment/slot.${slots[1]}`, asHolder('ben', `direct-${uniq}`), 'express'));
    await expectReplay(booked, () => book(`Appointment/slot.${slots[1]}`, asHolder('ben', `direct-${uniq}`)));
    // Only the claim token says who the caller is: without it the key is someone else's (no answer, the gate refuses).
    const stranger = await book(`Appointment/slot.${slots[1]}`, { 'idempotency-key': `direct-${uniq}` });
    expect(stranger.status).toBe(403);
    expect(codeOf(stranger.body)).toBe('INVITATION_REQUIRED');
  });

  it('a first SLOT_FULL comes back as SLOT_FULL after the invitation was used elsewhere; a reused key is refused; keys are per caller', async () => {
    // Staff take the only place of slot 2 first.
    const staffBooked = await book(`Appointment/slot.${slots[2]}`, { ...ADMIN, 'idempotency-key': `staff-first-${uniq}` });
    expect(staffBooked.status).toBe(200);
    const full = await book(`Appointment/slot.${slots[2]}`, asHolder('cat', `full-${uniq}`));
    expect(full.status).toBe(409);
    expect(codeOf(full.body)).toBe('SLOT_FULL');
    const booked = await book(`Appointment/slot.${slots[3]}`, asHolder('cat', `second-${uniq}`));
    expect(booked.status).toBe(200);
    // The invitation is used now; the retry of the first attempt is still told what it was told.
    await expectReplay(full, () => book(`Appointment/slot.${slots[2]}`, asHolder('cat', `full-${uniq}`)));
    await expectReplay(full, () => book(`Appointment/slot.${slots[2]}`, asHolder('cat', `full-${uniq}`), 'express'));
    await expectReplay(booked, () => book(`Appointment/slot.${slots[3]}`, asHolder('cat', `second-${uniq}`)));

    // The same key for another request: refused, nothing written.
    const before = await writes();
    const reused = await book(`Appointment/slot.${slots[4]}`, asHolder('cat', `second-${uniq}`));
    expect(reused.status).toBe(422);
    expect(codeOf(reused.body)).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await writes()).toEqual(before);

    // Dan sends Cat's key with Cat's very request: Dan's own request, not Cat's answer (the place is taken).
    const dan = await book(`Appointment/slot.${slots[3]}`, asHolder('dan', `second-${uniq}`));
    expect(dan.status).toBe(409);
    expect(codeOf(dan.body)).toBe('SLOT_FULL');
  });

  it('a patient token with its invitation, and staff, get their first answers back', async () => {
    const cfg = { issuer: rig.url, audience: rig.hub.config.fhirBaseUrl };
    const eve = holders.eve!;
    const token = (await issueAccessToken(rig.hub.db, cfg, { client_id: 'vaxhub-signup', scope: 'patient/Appointment.cruds', kind: 'patient', patient: eve.patientId }, 300)).token;
    const asEve = { authorization: `Bearer ${token}`, 'x-claim-token': eve.claimToken, 'x-queue-token': eve.queueToken, 'idempotency-key': `eve-${uniq}` };
    const booked = await book(`Appointment/slot.${slots[5]}`, asEve);
    expect(`${booked.status} ${JSON.stringify(booked.body).slice(0, 400)}`).toMatch(/^200 /);
    await expectReplay(booked, () => book(`Appointment/slot.${slots[5]}`, asEve));
    await expectReplay(booked, () => book(`Appointment/slot.${slots[5]}`, asEve, 'express'));

    const staffHold = await hold(slots[6]!, { ...ADMIN, 'idempotency-key': `staff-hold-${uniq}` }, 'express');
    expect(staffHold.status).toBe(200);
    await expectReplay(staffHold, () => hold(slots[6]!, { ...ADMIN, 'idempotency-key': `staff-hold-${uniq}` }));
    const apptId = `Appointment/${staffHold.body.entry[0].resource.id}`;
    const staffBook = await book(apptId, { ...ADMIN, 'idempotency-key': `staff-book-${uniq}` });
    expect(staffBook.status).toBe(200);
    await expectReplay(staffBook, () => book(apptId, { ...ADMIN, 'idempotency-key': `staff-book-${uniq}` }, 'express'));
    // Staff told SLOT_FULL are told SLOT_FULL again, even once a place is free (the first answer stands).
    const staffFull = await book(`Appointment/slot.${slots[6]}`, { ...ADMIN, 'idempotency-key': `staff-full-${uniq}` });
    expect(codeOf(staffFull.body)).toBe('SLOT_FULL');
    const cancelled = await call('PUT', `/fhir/Appointment/${staffHold.body.entry[0].resource.id}`, { ...staffBook.body.entry[0].resource, status: 'cancelled' }, ADMIN);
    expect(cancelled.status).toBe(200);
    await expectReplay(staffFull, () => book(`Appointment/slot.${slots[6]}`, { ...ADMIN, 'idempotency-key': `staff-full-${uniq}` }));
  });

  it('a cancellation (PUT status cancelled) retried with its key, by staff or by the patient, answers the first answer and writes nothing', async () => {
    const cfg = { issuer: rig.url, audience: rig.hub.config.fhirBaseUrl };
    const token = (await issueAccessToken(rig.hub.db, cfg, { client_id: 'vaxhub-signup', scope: 'patient/Appointment.cruds', kind: 'patient', patient: holders.eve!.patientId }, 300)).token;
    const staffBooked = (await book(`Appointment/slot.${slots[7]}`, ADMIN)).body.entry[0].resource;
    const eveBooked = (await call('GET', `/fhir/Appointment?slot=Slot/${slots[5]}&status=booked`, undefined, ADMIN)).body.entry[0].resource;
    for (const [appt, auth] of [[staffBooked, ADMIN], [eveBooked, { authorization: `Bearer ${token}` }]] as const) {
      // If-Match names the booked version: the retry's If-Match then names the version its first attempt replaced.
      const headers = { ...auth, 'if-match': `W/"${appt.meta.versionId}"`, 'idempotency-key': `cancel-${appt.id}` };
      const cancel = () => call('PUT', `/fhir/Appointment/${appt.id}`, { ...appt, status: 'cancelled' }, headers);
      const first = await cancel();
      expect(`${first.status} ${JSON.stringify(first.body).slice(0, 300)}`).toMatch(/^200 /);
      expect(first.body).toMatchObject({ id: appt.id, status: 'cancelled' });
      const again = await expectReplay(first, cancel);
      expect(again.headers.get('etag')).toBe(first.headers.get('etag'));
    }
  });

  it('a sign-up retried with its key answers the first registration and registers and mails nobody', async () => {
    const form = { name: { family: `fay-${uniq}`, given: ['Test'] }, birthDate: '1979-02-03', email: `fay-${uniq}@example.org`, postalCode: '01201', answers: { occupation: 'education' } };
    const first = await call('POST', '/signup/register', form, { 'idempotency-key': `signup-${uniq}` });
    expect(first.status).toBe(201);
    await expectReplay(first, () => call('POST', '/signup/register', form, { 'idempotency-key': `signup-${uniq}` }));
    const before = await writes();
    const other = await call('POST', '/signup/register', { ...form, birthDate: '1979-02-04' }, { 'idempotency-key': `signup-${uniq}` });
    expect(other.status).toBe(422);
    expect(codeOf(other.body)).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await writes()).toEqual(before);
  });
});
