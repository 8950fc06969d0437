/**
 * Registration -> verifiable draw -> ticket -> one-time code -> claim -> booking gate, against both databases,
 * with every refusal the issue names (forwarded link, replayed ticket, foreign ticket, outside window, no ticket,
 * expired, revoked) coded and audited.
 */
import { searchAudit } from '../../src/auth/audit.js';
import { INTERNAL_SYSTEM, type Principal } from '../../src/auth/principal.js';
import { fhirError, isOperationOutcomeError, type ErrorCode } from '../../src/fhir/outcomes.js';
import { formatRegistrationNumber } from '../../src/scheduling/booking-reference.js';
import { registerPerson, registrantStatus, type RegistrationInput } from '../../src/scheduling/eligibility/registrants.js';
import { loadTierRules } from '../../src/scheduling/eligibility/rules.js';
import { AbuseAccounting, abuseKindOf } from '../../src/scheduling/invitations/abuse.js';
import { commitDraw, getDraw, loadEquityIndex, runDraw } from '../../src/scheduling/invitations/draws.js';
import { verifyDraw } from '../../src/scheduling/invitations/lottery.js';
import { claimTicket, expireTickets, markTicketUsed, revokeTicket, sendClaimCode } from '../../src/scheduling/invitations/tickets.js';
import { checkBookingGate, scheduleWindow } from '../../src/scheduling/invitations/waves.js';
import { openingNightRegistry } from '../../src/scheduling/waiting-room/metrics.js';
import type { Db } from '../../src/store/db.js';
import { FhirRepository } from '../../src/store/repository.js';
import { testDatabases } from './databases.js';

const rules = loadTierRules();
const equity = loadEquityIndex();
const T0 = new Date('2021-02-01T09:00:00Z');
const at = (minutes: number): Date => new Date(T0.getTime() + minutes * 60_000);
const patientPrincipal = (patientId: string): Principal => ({ kind: 'patient', patientId, scopes: [], scope: 'patient/Appointment.c' });

async function codeOf(p: Promise<unknown>): Promise<ErrorCode | undefined> {
  try {
    await p;
  } catch (e) {
    if (isOperationOutcomeError(e)) return e.code;
    throw e;
  }
  return undefined;
}

describe.each(testDatabases)('invitations on $name', ({ open }) => {
  let db: Db;
  let abuse: AbuseAccounting;
  const uniq = Math.random().toString(36).slice(2, 8);
  const person = (given: string, extra: Partial<RegistrationInput> = {}): RegistrationInput => ({
    name: { family: `Tester-${uniq}`, given: [given] },
    birthDate: '1944-06-13',
    email: `${given.toLowerCase()}@example.org`,
    postalCode: '02119',
    answers: {},
    ...extra,
  });
  const lastMail = async (to: string, kind: string): Promise<string> =>
    (await db.query<{ body: string }>('SELECT body FROM notification_outbox WHERE recipient = $1 AND kind = $2 ORDER BY created_at DESC LIMIT 1', [to, kind])).rows[0]!.body;
  const deps = (): Parameters<typeof runDraw>[0] => ({ db, rules, equity, publicBaseUrl: 'https://hub.example.org/signup' });

  beforeAll(async () => {
    db = await open();
    abuse = new AbuseAccounting(db, { alertPerMinute: 3, spikePerMinute: 1000 });
  });
  afterAll(async () => db.close());

  it('walks the whole invitation path and refuses every misuse with a coded, audited outcome', async () => {
    const repo = new FhirRepository(db);
    const ann = await registerPerson({ db, repo, rules }, person('Ann'), T0);
    const ben = await registerPerson({ db, repo, rules }, person('Ben', { birthDate: '1943-01-02', email: undefined, phone: '+1 617 555 0100', registeredBy: ann.id }), T0);
    expect(ann.tier).toBe('1b');
    expect(ben.registeredBy).toBe(ann.id);
    // Registering Ann again (another spelling) answers like a new registration, registers nobody, and tells Ann.
    const again = await registerPerson({ db, repo, rules }, person('ANN', { email: 'someone-else@example.org' }), T0);
    expect(again).toMatchObject({ repeated: true, status: 'registered', tier: '1b', registeredBy: null });
    expect([again.id, again.patientId]).not.toContain(ann.id);
    expect([again.id, again.patientId]).not.toContain(ann.patientId);
    expect((await registrantStatus(db, rules, again.id, T0)).text).toBe('registered, tier 1b, not yet invited');
    expect((await db.query('SELECT 1 FROM registrant WHERE identity_key = (SELECT identity_key FROM registrant WHERE id = $1)', [ann.id])).rowCount).toBe(1);
    expect(await repo.readOptional('Patient', again.patientId)).toBeUndefined();
    // Told with her short registration number (issue 21), not the registration's UUID.
    expect(await lastMail('ann@example.org', 'registration-repeated')).toContain(formatRegistrationNumber(ann.number!));
    expect(await lastMail('ann@example.org', 'registration-repeated')).not.toContain(ann.id);
    expect((await db.query("SELECT 1 FROM notification_outbox WHERE recipient = 'someone-else@example.org'")).rowCount).toBe(0);
    const patient = await repo.read('Patient', ann.patientId);
    expect(patient).toMatchObject({ birthDate: '1944-06-13', address: [{ postalCode: '02119' }] });
    expect((await registrantStatus(db, rules, ann.id, T0)).text).toBe('registered, tier 1b, not yet invited');

    // A window for 1b opens in 20 minutes; the draw is committed before it runs.
    const win = await scheduleWindow(db, { name: `1b ${uniq}`, opensAt: at(20).toISOString(), closesAt: at(600).toISOString(), criteria: { tiers: ['1b'], birthYearTo: 1946 } });
    const committed = await commitDraw({ db, rules }, { label: `wave ${uniq}`, invitations: 2, tierOrder: ['1b'], windowId: win.id, useEquityWeights: true }, at(1));
    const before = await getDraw(db, committed.id);
    expect(before.published).toBeUndefined();
    const drawn = await runDraw(deps(), committed.id, at(2));
    expect([...drawn.published!.selected].sort()).toEqual([ann.id, ben.id].sort());
    expect(verifyDraw(drawn.published!)).toEqual({ ok: true, problems: [] });
    expect(await codeOf(runDraw(deps(), committed.id, at(3)))).toBe('VERSION_CONFLICT');
    expect((await registrantStatus(db, rules, ann.id, at(3))).text).toMatch(/^registered, tier 1b, invited \(invitation valid until /);
    // Ben has a phone only and this hub no SMS gateway: not mailed, not lost, but queued for the front desk to reach.
    expect((await db.query('SELECT 1 FROM notification_outbox WHERE kind = $1 AND payload->>\'registrantId\' = $2', ['invitation', ben.id])).rowCount).toBe(0);
    const bensLetter = await db.query<{ channel: string; why: string; done_at: string | null }>('SELECT channel, why, done_at FROM invitation_letter WHERE registrant_id = $1', [ben.id]);
    expect(bensLetter.rows).toEqual([{ channel: 'clinic', why: 'no-sms-gateway', done_at: null }]);
    expect((await db.query('SELECT 1 FROM invitation_letter WHERE registrant_id = $1', [ann.id])).rowCount).toBe(0);

    const link = (await lastMail('ann@example.org', 'invitation')).match(/invitation\/([\w-]+)/)![1]!;
    await sendClaimCode(db, link, at(5));
    const code = (await lastMail('ann@example.org', 'one-time-code')).match(/\b(\d{6})\b/)![1]!;
    expect(await codeOf(sendClaimCode(db, link, at(5.5)))).toBe('TOO_MANY_REQUESTS'); // resend too soon

    // A forwarded link: someone without the code or the birth date.
    const wrongCode = code === '000000' ? '000001' : '000000';
    const refusals: unknown[] = [];
    for (const attempt of [{ code: wrongCode, birthDate: '1944-06-13' }, { code, birthDate: '1980-01-01' }]) {
      await claimTicket(db, { ticketId: link, ...attempt }, at(6)).catch((e: unknown) => refusals.push(e));
    }
    expect(refusals.map((e) => isOperationOutcomeError(e) && e.code)).toEqual(['INVITATION_INVALID', 'INVITATION_INVALID']);
    for (const e of refusals) if (isOperationOutcomeError(e)) await abuse.record({ kind: abuseKindOf(e), what: 'invitation', detail: e.message });
    expect(await codeOf(claimTicket(db, { ticketId: 'x'.repeat(22), code, birthDate: '1944-06-13' }, at(6)))).toBe('INVITATION_INVALID');

    const claim = await claimTicket(db, { ticketId: link, code, birthDate: '1944-06-13' }, at(7));
    expect(claim.patientId).toBe(ann.patientId);
    // The same code again (replay) is refused.
    expect(await codeOf(claimTicket(db, { ticketId: link, code, birthDate: '1944-06-13' }, at(8)))).toBe('INVITATION_USED');

    // The gate: no ticket; before the window; a foreign person; staff; ok.
    const gate = (over: Partial<Parameters<typeof checkBookingGate>[1]>) =>
      checkBookingGate(db, { principal: patientPrincipal(ann.patientId), now: at(21), claimToken: claim.claimToken, patientId: ann.patientId, ...over });
    const results = {
      none: await gate({ claimToken: undefined }),
      early: await gate({ now: at(15) }),
      foreign: await gate({ patientId: ben.patientId, principal: patientPrincipal(ben.patientId) }),
      forged: await gate({ claimToken: claim.claimToken.slice(0, -3) + 'AAA' }),
      staff: await checkBookingGate(db, { principal: INTERNAL_SYSTEM, now: at(30) }),
      ok: await gate({}),
    };
    expect(Object.fromEntries(Object.entries(results).map(([k, r]) => [k, r.ok ? `ok:${r.via}` : r.code]))).toEqual({
      none: 'INVITATION_REQUIRED', early: 'OUTSIDE_WINDOW', foreign: 'INVITATION_INVALID', forged: 'INVITATION_INVALID', staff: 'ok:staff', ok: 'ok:ticket',
    });
    expect(results.early.ok === false && results.early.error.message).toMatch(/opens at/);
    // The tier re-check at booking (the hub's BookingGate hook): no longer eligible is refused with the ticket named;
    // a tier that moved out of the open window's cohort no longer matches it.
    const base = { principal: patientPrincipal(ann.patientId), now: at(21), claimToken: claim.claimToken, patientId: ann.patientId };
    const noLonger = await checkBookingGate(db, base, async () => ({ refusal: fhirError('NOT_ELIGIBLE', 'rules changed') }));
    expect(noLonger).toMatchObject({ ok: false, code: 'NOT_ELIGIBLE', ticketRef: expect.any(String) });
    expect(await checkBookingGate(db, base, async () => ({ tier: 'tier-nobody-opened' }))).toMatchObject({ ok: false, code: 'OUTSIDE_WINDOW' });
    expect(await checkBookingGate(db, base, async (reg) => ({ tier: reg.tier }))).toMatchObject({ ok: true, via: 'ticket' });
    for (const r of Object.values(results)) {
      if (!r.ok) await abuse.record({ kind: abuseKindOf(r.error), what: `invitation/${r.ticketRef ?? '-'}`, detail: r.error.message });
    }

    // Booking marks the ticket used in its own transaction; a second booking with it is refused.
    if (!results.ok.ok || results.ok.via !== 'ticket') throw new Error('expected a ticket pass');
    const { ticketRef, generation, registrantId } = results.ok;
    await db.transaction((tx) => markTicketUsed(tx, { tkt: ticketRef, gen: generation, sub: registrantId }, at(22)));
    expect(await codeOf(db.transaction((tx) => markTicketUsed(tx, { tkt: ticketRef, gen: generation, sub: registrantId }, at(23))))).toBe('INVITATION_USED');
    const replay = await gate({ now: at(23) });
    expect(replay.ok === false && replay.code).toBe('INVITATION_USED');
    expect((await registrantStatus(db, rules, ann.id, at(24))).text).toBe('registered, tier 1b, booked');

    // Every refusal is audited and counted.
    const audits = await searchAudit(db, { action: 'operation', outcome: 'denied', limit: 1000 });
    const kinds = audits.map((e) => e.outcomeDesc!.split(':')[0]);
    expect(kinds).toEqual(expect.arrayContaining(['bad-code', 'no-ticket', 'outside-window', 'foreign-ticket', 'bad-ticket']));
    const metrics = await openingNightRegistry.getSingleMetricAsString('vaxhub_abuse_attempts_total');
    expect(metrics).toMatch(/vaxhub_abuse_attempts_total\{kind="foreign-ticket"\} [1-9]/);
  });

  it('expires unused tickets, returns the person to the pool, and honours revocation', async () => {
    const repo = new FhirRepository(db);
    const cy = await registerPerson({ db, repo, rules }, person('Cy', { birthDate: '1950-03-03', answers: { occupation: 'energy' } }), T0);
    const d1 = await commitDraw({ db, rules }, { label: `c1 ${uniq}`, invitations: 50, tierOrder: ['1c'], useEquityWeights: false }, at(1));
    expect((await runDraw(deps(), d1.id, at(2))).published!.selected).toContain(cy.id);
    const link = (await lastMail('cy@example.org', 'invitation')).match(/invitation\/([\w-]+)/)![1]!;
    const expiry = at(2 + 48 * 60 + 1);
    expect(await codeOf(sendClaimCode(db, link, expiry))).toBe('INVITATION_EXPIRED');
    expect((await registrantStatus(db, rules, cy.id, expiry)).status).toBe('registered');
    expect(await expireTickets(db, expiry)).toBeGreaterThanOrEqual(1);

    // Back in the pool for the next draw; this time the invitation is revoked.
    const d2 = await commitDraw({ db, rules }, { label: `c2 ${uniq}`, invitations: 50, tierOrder: ['1c'], useEquityWeights: false }, expiry);
    expect((await runDraw(deps(), d2.id, new Date(expiry.getTime() + 1000))).published!.selected).toContain(cy.id);
    const link2 = (await lastMail('cy@example.org', 'invitation')).match(/invitation\/([\w-]+)/)![1]!;
    expect(link2).not.toBe(link);
    const ref = (await db.query<{ ref: string }>(`SELECT ref FROM invitation_ticket WHERE registrant_id = $1 AND status = 'issued'`, [cy.id])).rows[0]!.ref;
    expect(await revokeTicket(db, ref, 'duplicate identity suspected', new Date(expiry.getTime() + 2000))).toBe(true);
    expect(await codeOf(sendClaimCode(db, link2, new Date(expiry.getTime() + 3000)))).toBe('INVITATION_INVALID');
  });

  it('limits wrong guesses per code even when they arrive in parallel', async () => {
    const repo = new FhirRepository(db);
    const dee = await registerPerson({ db, repo, rules }, person('Dee', { birthDate: '1990-04-04', answers: { conditions: ['copd'] } }), T0);
    const d = await commitDraw({ db, rules }, { label: `d ${uniq}`, invitations: 500, tierOrder: ['1c'], useEquityWeights: false }, at(100));
    expect((await runDraw(deps(), d.id, at(101))).published!.selected).toContain(dee.id);
    const link = (await lastMail('dee@example.org', 'invitation')).match(/invitation\/([\w-]+)/)![1]!;
    await sendClaimCode(db, link, at(102));
    const code = (await lastMail('dee@example.org', 'one-time-code')).match(/\b(\d{6})\b/)![1]!;
    const guesses = Array.from({ length: 20 }, (_, i) => String((Number(code) + 1 + i) % 1_000_000).padStart(6, '0'));
    const codes = await Promise.all(guesses.map((g) => codeOf(claimTicket(db, { ticketId: link, code: g, birthDate: '1990-04-04' }, at(103)))));
    expect(codes.every((c) => c === 'INVITATION_INVALID')).toBe(true);
    const row = (await db.query<{ code_attempts: number }>('SELECT code_attempts FROM invitation_ticket WHERE registrant_id = $1', [dee.id])).rows[0]!;
    expect(row.code_attempts).toBe(5);
    // Even the right code is now refused until a new one is sent.
    expect(await codeOf(claimTicket(db, { ticketId: link, code, birthDate: '1990-04-04' }, at(104)))).toBe('INVITATION_INVALID');
  });
});
