/**
 * Issue 21: after a clinic closure each person answers the place held for them, through the link in the closure
 * mail (src/clinic/rebooking.ts, /signup/rebooking/:token), on PGlite and PostgreSQL. One keeps it (booked, the
 * confirmation mailed with its reference and QR code), one chooses another time (the held place goes back in the
 * same transaction), one declines (the place goes back), and one does not answer in time: the sweep gives the place
 * back and someone else books it, while the link still offers other times. A forged link is 404, a second answer 409.
 */
import { randomBytes } from 'node:crypto';
import type { Appointment } from 'fhir/r4';
import { ADMIN_CLIENT_ID } from '../../src/apps/wiring.js';
import { addStaff } from '../../src/auth/staff.js';
import { issueAccessToken } from '../../src/auth/token-service.js';
import { sweepLapsedOffers } from '../../src/clinic/rebooking.js';
import { loadProducts } from '../../src/scheduling/products.js';
import { parseOpeningHours } from '../../src/scheduling/slot-generation.js';
import { generateSlots } from '../../src/scheduling/slot-store.js';
import { backends, type TestHub } from '../helpers/hub.js';
import { startMailbox, type Mailbox, type RawMail } from '../helpers/mailbox.js';
import { parseMime, partOfType } from '../helpers/mime.js';
import { startOpeningNightHub } from '../opening-night/opening-night-hub.js';
import { seedClinic } from '../scheduling/support.js';

const tag = randomBytes(3).toString('hex');

interface View {
  state: string; expiresAt: string; canChoose: boolean;
  held?: { appointmentId: string; start: string }; booked?: { appointmentId: string; reference?: string };
  alternatives: Array<{ slotId: string; start: string }>;
}

describe.each(backends())('answering the place held after a closure (%s)', (backend) => {
  let t: TestHub;
  let mailbox: Mailbox<RawMail>;
  let token: string;
  let clinic: { locationId: string; scheduleId: string; slotIds: string[] };
  const closeDay = new Date(Date.now() + 4 * 86_400_000).toISOString().slice(0, 10);
  const nextDay = new Date(Date.now() + 5 * 86_400_000).toISOString().slice(0, 10);

  const call = async <T>(method: string, path: string, body?: unknown, auth = true): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${t.url}${path}`, {
      method, headers: { ...(auth ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': path.startsWith('/fhir') ? 'application/fhir+json' : 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  };
  const taken = async (slotId: string): Promise<number> => (await t.hub.db.query<{ taken: number }>('SELECT taken FROM slot_capacity WHERE id = $1', [slotId])).rows[0]!.taken;

  /** A person with an email, booked by staff on the day to be closed. */
  async function bookedPerson(name: string, slotId: string): Promise<{ patientId: string; email: string }> {
    const email = `${name.toLowerCase()}-${tag}@example.org`;
    const p = await call<{ id: string }>('POST', '/fhir/Patient', { resourceType: 'Patient', name: [{ family: `${name}-${tag}` }], birthDate: '1946-06-06', telecom: [{ system: 'email', value: email }] });
    const b = await call<{ entry: Array<{ resource: Appointment }> }>('POST', '/fhir/Appointment/$book', {
      resourceType: 'Parameters',
      parameter: [
        { name: 'appt-id', valueString: `Appointment/slot.${slotId}` }, { name: 'patient-id', valueString: `Patient/${p.body.id}` },
        // Never invited (the fairness rules are not this test's subject): the audited override.
        { name: 'override-reason', valueString: 'Booked by the clinic for a person outside the invitation scheme' },
      ],
    });
    expect(b.status).toBe(200);
    return { patientId: p.body.id, email };
  }

  /** The link's path for the person, read from their closure mail. */
  async function linkOf(email: string): Promise<string> {
    const mail = await mailbox.waitFor((m) => m.to.includes(email) && /#offer\//.test(m.raw.replace(/=\r?\n/g, '')), 90_000);
    const text = partOfType(parseMime(mail.raw), 'text/plain')!.body.toString('utf8');
    return /#offer\/([A-Za-z0-9\-.]+\.[A-Za-z0-9_-]{32})/.exec(text)![1]!;
  }

  beforeAll(async () => {
    mailbox = await startMailbox();
    t = await startOpeningNightHub(backend, { smtpUrl: mailbox.url, closureOfferHours: 48 });
    const { account } = await addStaff(t.hub.db, t.hub.repo, { email: `close.${tag}@clinic.example`, name: 'Cleo Closer' });
    token = (await issueAccessToken(t.hub.db, { issuer: t.url, audience: t.fhirUrl }, {
      client_id: ADMIN_CLIENT_ID, scope: 'user/Practitioner.r openid fhirUser vaxhub/operator', kind: 'user', sub: account.fhirUser, fhirUser: account.fhirUser,
    }, 3600)).token;
    clinic = await seedClinic({ db: t.hub.db, repo: t.hub.repo, products: loadProducts() }, { cvx: '187', slots: 4, capacity: 1, doses: 30, day: closeDay, lot: `RB-${tag}` });
    // The next day: eight places of one, for the people of the closed day and for choosing.
    await generateSlots(t.hub.db, t.hub.repo, clinic.scheduleId, { from: nextDay, to: nextDay, hours: parseOpeningHours('daily 09:00-11:00'), slotMinutes: 15, capacity: 1, timeZone: 'UTC' });
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    await mailbox?.close();
  });

  it('keeps, chooses another time, declines, and gives an unanswered place back when its time is up', async () => {
    const [ana, ben, cai, dee] = [
      await bookedPerson('Ana', clinic.slotIds[0]!), await bookedPerson('Ben', clinic.slotIds[1]!),
      await bookedPerson('Cai', clinic.slotIds[2]!), await bookedPerson('Dee', clinic.slotIds[3]!),
    ];
    const closed = await call<{ affected: Array<{ patientId: string; offer?: { appointmentId: string; expiresAt: string } }> }>('POST', `/admin/clinic/locations/${clinic.locationId}/days/${closeDay}/closure`, { reason: 'weather' });
    expect(closed.status).toBe(200);
    const offers = closed.body.affected;
    expect(offers.every((o) => o.offer)).toBe(true);
    // CLOSURE_OFFER_HOURS (48 here) is how long each place is held.
    const hours = (Date.parse(offers[0]!.offer!.expiresAt) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(47);
    expect(hours).toBeLessThanOrEqual(48);

    // Ana keeps the held place: it is her booking, with a reference, and her confirmation comes with its QR code.
    const anaLink = await linkOf(ana.email);
    const seen = await call<View>('GET', `/signup/rebooking/${anaLink}`, undefined, false);
    expect(seen.status).toBe(200);
    expect(seen.body.state).toBe('held');
    const heldAna = seen.body.held!.appointmentId;
    const kept = await call<View>('POST', `/signup/rebooking/${anaLink}/accept`, undefined, false);
    expect(kept.status).toBe(200);
    expect(kept.body.state).toBe('booked');
    expect(kept.body.booked!.appointmentId).toBe(heldAna);
    expect(kept.body.booked!.reference).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    expect((await call<Appointment>('GET', `/fhir/Appointment/${heldAna}`)).body.status).toBe('booked');
    const confirmation = parseMime((await mailbox.waitFor((m) => m.to.includes(ana.email) && /booked/i.test(parseMime(m.raw).headers.subject ?? ''), 90_000)).raw);
    expect(partOfType(confirmation, 'image/png')).toBeDefined();
    expect((await call('POST', `/signup/rebooking/${anaLink}/accept`, undefined, false)).status).toBe(409);

    // Ben chooses another time: booked there, and the place held for him is free again at once.
    const benLink = await linkOf(ben.email);
    const benView = (await call<View>('GET', `/signup/rebooking/${benLink}`, undefined, false)).body;
    const heldBenSlot = (await t.hub.db.query<{ slot_id: string }>('SELECT slot_id FROM booking WHERE appointment_id = $1', [benView.held!.appointmentId])).rows[0]!.slot_id;
    const other = benView.alternatives.find((a) => a.slotId !== heldBenSlot)!;
    expect((await call('POST', `/signup/rebooking/${benLink}/choose`, { slotId: '../x' }, false)).status).toBe(400);
    const chosen = await call<View>('POST', `/signup/rebooking/${benLink}/choose`, { slotId: other.slotId }, false);
    expect(chosen.status).toBe(200);
    expect(chosen.body.state).toBe('booked');
    expect((await t.hub.db.query<{ slot_id: string }>('SELECT slot_id FROM booking WHERE appointment_id = $1', [chosen.body.booked!.appointmentId])).rows[0]!.slot_id).toBe(other.slotId);
    expect(await taken(heldBenSlot)).toBe(0);
    expect((await call<Appointment>('GET', `/fhir/Appointment/${benView.held!.appointmentId}`)).body.status).toBe('cancelled');

    // Cai declines: the place goes back.
    const caiLink = await linkOf(cai.email);
    const caiHeld = (await call<View>('GET', `/signup/rebooking/${caiLink}`, undefined, false)).body.held!.appointmentId;
    const caiSlot = (await t.hub.db.query<{ slot_id: string }>('SELECT slot_id FROM booking WHERE appointment_id = $1', [caiHeld])).rows[0]!.slot_id;
    const declined = await call<View>('POST', `/signup/rebooking/${caiLink}/decline`, undefined, false);
    expect(declined.body.state).toBe('declined');
    expect(await taken(caiSlot)).toBe(0);

    // Dee does not answer: when the time is up (the sweep's clock two days on) the place goes back to everyone and
    // someone else books it; Dee's link says so and still offers other times.
    const deeLink = await linkOf(dee.email);
    const deeHeld = (await call<View>('GET', `/signup/rebooking/${deeLink}`, undefined, false)).body.held!.appointmentId;
    const deeSlot = (await t.hub.db.query<{ slot_id: string }>('SELECT slot_id FROM booking WHERE appointment_id = $1', [deeHeld])).rows[0]!.slot_id;
    const later = new Date(Date.now() + 49 * 3_600_000);
    expect(await sweepLapsedOffers({ db: t.hub.db, repo: t.hub.repo, scheduling: { products: loadProducts() }, clock: () => later })).toBeGreaterThanOrEqual(1);
    expect((await call<Appointment>('GET', `/fhir/Appointment/${deeHeld}`)).body.status).toBe('cancelled');
    expect(await taken(deeSlot)).toBe(0);
    await bookedPerson('Eve', deeSlot);
    const deeView = (await call<View>('GET', `/signup/rebooking/${deeLink}`, undefined, false)).body;
    expect(deeView.state).toBe('expired');
    expect(deeView.canChoose).toBe(true);
    expect(deeView.alternatives.map((a) => a.slotId)).not.toContain(deeSlot);
    expect((await call('POST', `/signup/rebooking/${deeLink}/accept`, undefined, false)).status).toBe(409);

    // A forged or altered link is refused without saying whether the offer exists.
    expect((await call('GET', `/signup/rebooking/${heldAna}.${'A'.repeat(32)}`, undefined, false)).status).toBe(404);
    expect((await call('GET', '/signup/rebooking/nonsense', undefined, false)).status).toBe(404);
  }, 180_000);
});
