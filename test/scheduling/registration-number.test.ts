/**
 * Issue 21: registration numbers people are shown and type are short and checked (`R-ABCD-EFGH`), not the
 * registration's UUID, on PGlite and PostgreSQL. A registration through the sign-up API gets one; the registration
 * mail carries it and no UUID; the status lookup takes it however typed (lower case, no dashes, O for 0, I for 1,
 * without the R) with the birth date, refuses a typo as a typo (400, not "no such registration") and still takes the
 * old id from mails sent before; staff find the person by it at the front desk and see it in the person file; a
 * registration made before numbers existed is given one by the backfill (and a second run gives none).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { ADMIN_CLIENT_ID } from '../../src/apps/wiring.js';
import { addStaff } from '../../src/auth/staff.js';
import { issueAccessToken } from '../../src/auth/token-service.js';
import { ALPHABET, formatRegistrationNumber, parseRegistrationNumber } from '../../src/scheduling/booking-reference.js';
import { backfillRegistrationNumbers } from '../../src/scheduling/registration-number-backfill.js';
import { backends, type TestHub } from '../helpers/hub.js';
import { startMailbox, startOpeningNightHub } from '../opening-night/opening-night-hub.js';

const tag = randomBytes(3).toString('hex');
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
const SHOWN = /^R-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/;

describe.each(backends())('registration numbers (%s)', (backend) => {
  let t: TestHub;
  let mailbox: Awaited<ReturnType<typeof startMailbox>>;
  let token: string;

  const call = async <T = Record<string, unknown>>(method: string, path: string, body?: unknown, auth = false): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${t.url}${path}`, {
      method,
      headers: { ...(auth ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  };
  const status = (registrant: string, birthDate: string) =>
    call<{ registrantId: string; registrationNumber: string; issue?: Array<{ diagnostics?: string }> }>('GET', `/signup/status?${new URLSearchParams({ registrant, birthDate })}`);

  beforeAll(async () => {
    mailbox = await startMailbox();
    t = await startOpeningNightHub(backend, { smtpUrl: mailbox.url });
    const { account } = await addStaff(t.hub.db, t.hub.repo, { email: `regnum.${tag}@clinic.example`, name: 'Rita Desk' });
    token = (await issueAccessToken(t.hub.db, { issuer: t.url, audience: t.fhirUrl }, {
      client_id: ADMIN_CLIENT_ID, scope: 'user/Practitioner.r openid fhirUser vaxhub/operator', kind: 'user', sub: account.fhirUser, fhirUser: account.fhirUser,
    }, 3600)).token;
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    await mailbox?.close();
  });

  it('gives each registration a short checked number, mails it in place of the UUID, and looks it up however typed', async () => {
    const email = `rn-${tag}-${backend}@example.org`;
    const r = await call<{ registrantId: string; patientId: string; status: { registrationNumber: string } }>('POST', '/signup/register', {
      name: { family: `Numbered-${tag}`, given: ['Nina'] }, birthDate: '1950-03-04', email, postalCode: '01201', answers: { occupation: 'healthcare-personnel' }, language: 'es',
    });
    expect(r.status).toBe(201);
    const shown = r.body.status.registrationNumber;
    expect(shown).toMatch(SHOWN);
    const canonical = shown.replace(/-/g, '');
    expect(parseRegistrationNumber(shown)).toEqual({ ok: true, reference: canonical });
    const row = await t.hub.db.query<{ number: string }>('SELECT number FROM registrant WHERE id = $1', [r.body.registrantId]);
    expect(row.rows[0]!.number).toBe(canonical);

    // The confirmation (in Spanish, as registered) says the short number and holds no UUID, text or HTML.
    const mail = await mailbox.waitFor((m) => m.to.includes(email) && m.text.includes('inscripción'), 60_000);
    expect(mail.text).toContain(`Su número de inscripción: ${shown}`);
    expect(mail.text).not.toMatch(UUID);
    if (mail.html) {
      expect(mail.html).toContain(shown);
      expect(mail.html).not.toMatch(UUID);
    }

    // Typed as people type: lower case, spaces, look-alikes (0 as O, 1 as I), without the R; with the birth date.
    const typed = [shown, shown.toLowerCase(), canonical.replace(/0/g, 'O').replace(/1/g, 'I'), `${canonical.slice(1, 5)} ${canonical.slice(5)}`.toLowerCase()];
    for (const q of typed) {
      const s = await status(q, '1950-03-04');
      expect({ q, status: s.status }).toEqual({ q, status: 200 });
      expect(s.body).toMatchObject({ registrantId: r.body.registrantId, registrationNumber: shown });
    }
    // The birth date still has to match: one answer for a wrong one and an unknown number.
    expect((await status(shown, '1950-03-05')).status).toBe(404);
    // A typo (one wrong character) is refused as a typo, not as "no such registration".
    const pos = 6;
    const wrong = ALPHABET[(ALPHABET.indexOf(canonical[pos]!) + 1) % 32]!;
    const typo = await status(canonical.slice(0, pos) + wrong + canonical.slice(pos + 1), '1950-03-04');
    expect(typo.status).toBe(400);
    expect(JSON.stringify(typo.body)).toContain('registration number has a typing error');
    expect((await status('R-ABCD', '1950-03-04')).status).toBe(400);
    // The id from a mail sent before numbers existed still works.
    expect((await status(r.body.registrantId, '1950-03-04')).body).toMatchObject({ registrationNumber: shown });

    // A repeated registration's echo has a number of its own that reads like a new one.
    const again = await call<{ status: { registrationNumber: string } }>('POST', '/signup/register', {
      name: { family: `Numbered-${tag}`, given: ['Nina'] }, birthDate: '1950-03-04', email: `other-${tag}-${backend}@example.org`, postalCode: '01201', answers: { occupation: 'healthcare-personnel' },
    });
    expect(again.status).toBe(201);
    expect(again.body.status.registrationNumber).toMatch(SHOWN);
    expect(again.body.status.registrationNumber).not.toBe(shown);
    expect((await status(again.body.status.registrationNumber, '1950-03-04')).status).toBe(200);
    const told = await t.hub.db.query<{ body: string }>("SELECT body FROM notification_outbox WHERE recipient = $1 AND kind = 'registration-repeated'", [email]);
    expect(told.rows[0]!.body).toContain(shown);
    expect(told.rows[0]!.body).not.toMatch(UUID);

    // Staff find the person by the number (as typed from a letter, and with a space), and the file shows it.
    for (const q of [shown, shown.toLowerCase().replace(/-/g, ' ')]) {
      const found = await call<{ matches: Array<{ patientId: string; matchedBy: string[] }> }>('GET', `/admin/front-desk/people?${new URLSearchParams({ q })}`, undefined, true);
      expect(found.status).toBe(200);
      expect(found.body.matches[0]).toMatchObject({ patientId: r.body.patientId, matchedBy: expect.arrayContaining(['registration']) });
    }
    const file = await call<{ registrations: Array<{ number: string }> }>('GET', `/admin/front-desk/people/${r.body.patientId}`, undefined, true);
    expect(file.body.registrations.map((x) => x.number)).toEqual([shown]);
  }, 120_000);

  it('gives registrations made before numbers existed one, once', async () => {
    const r = await call<{ registrantId: string; patientId: string }>('POST', '/signup/register', {
      name: { family: `Older-${tag}`, given: ['Otto'] }, birthDate: '1944-07-08', email: `old-${tag}-${backend}@example.org`, postalCode: '01201', answers: { occupation: 'healthcare-personnel' },
    });
    expect(r.status).toBe(201);
    // As the hub wrote it before migration 386: no number.
    await t.hub.db.query('UPDATE registrant SET number = NULL WHERE id = $1', [r.body.registrantId]);
    const echoId = randomUUID();
    await t.hub.db.query('INSERT INTO registration_echo (id, birth_date, tier, created_at) VALUES ($1, $2, $3, now())', [echoId, '1944-07-08', '1a']);
    const before = await status(r.body.registrantId, '1944-07-08');
    expect(before.body.registrationNumber).toBe(r.body.registrantId);

    const [a, b] = await Promise.all([backfillRegistrationNumbers(t.hub.db, { batchSize: 1 }), backfillRegistrationNumbers(t.hub.db, { batchSize: 1 })]);
    expect(a.given + b.given).toBeGreaterThanOrEqual(2);
    const row = await t.hub.db.query<{ number: string }>('SELECT number FROM registrant WHERE id = $1', [r.body.registrantId]);
    const number = row.rows[0]!.number;
    expect(parseRegistrationNumber(number)).toEqual({ ok: true, reference: number });
    const echo = await t.hub.db.query<{ number: string }>('SELECT number FROM registration_echo WHERE id = $1', [echoId]);
    expect(parseRegistrationNumber(echo.rows[0]!.number).ok).toBe(true);
    expect(echo.rows[0]!.number).not.toBe(number);
    expect((await backfillRegistrationNumbers(t.hub.db)).given).toBe(0);
    const after = await status(formatRegistrationNumber(number), '1944-07-08');
    expect(after.body).toMatchObject({ registrantId: r.body.registrantId, registrationNumber: formatRegistrationNumber(number) });
    const missing = await t.hub.db.query<{ n: string }>('SELECT count(*)::text AS n FROM registrant WHERE number IS NULL');
    expect(missing.rows[0]!.n).toBe('0');
  }, 120_000);
});
