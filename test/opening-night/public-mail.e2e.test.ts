/**
 * Mail to the public in the person's language and the clinic's time (issue 22, items 2 and 4), through the running
 * hub and a real SMTP server, on PGlite and PostgreSQL: a Spanish registrant's invitation, code and booking
 * confirmation are Spanish; the confirmation gives the clinic's local time (9:00 in Chicago, not 15:00 GMT), the
 * vaccine, the clinic's name, address and a map link; the invitation's expiry is a date people read, not ISO 8601.
 * Someone who registered without a language gets English.
 */
import { formatReference, referenceOfAppointment } from '../../src/scheduling/booking-reference.js';
import type { Appointment, Parameters } from 'fhir/r4';
import { registerClient } from '../../src/auth/clients.js';
import { loadProducts } from '../../src/scheduling/products.js';
import { ADMIN, backends, type TestHub } from '../helpers/hub.js';
import { seedClinic } from '../scheduling/support.js';
import { startMailbox, startOpeningNightHub } from './opening-night-hub.js';

process.env.WAITING_ROOM_EVENT_CACHE_MS = '0';
process.env.SIGNUP_PER_IP_PER_MINUTE = '6000';
process.env.CLAIM_PER_IP_PER_MINUTE = '6000';

const HOUR = 3_600_000;
const ISO_INSTANT = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

describe.each(backends())('public mail on %s', (backend) => {
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
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };

  beforeAll(async () => {
    mailbox = await startMailbox();
    rig = await startOpeningNightHub(backend, { smtpUrl: mailbox.url, timeZone: 'America/New_York' });
    const ctx = { db: rig.hub.db, repo: rig.hub.repo, products: loadProducts(), holdSeconds: 300 };
    // A Chicago clinic (its Location names its zone); the first slot is 09:00 there on a winter day, 15:00 UTC.
    slotIds = (await seedClinic(ctx, { cvx: '309', slots: 2, capacity: 3, doses: 10, day: '2030-12-03', city: 'Chicago', timeZone: 'America/Chicago' })).slotIds;
  });
  afterAll(async () => {
    await rig?.close();
    await mailbox?.close();
  });

  async function registerAndInvite(who: string, language?: string): Promise<{ patientId: string; ticket: string; invitation: { subject: string; text: string } }> {
    const r = await call('POST', '/signup/register', {
      name: { family: `${who}-${uniq}`, given: ['Test'] }, birthDate: '1950-03-04', email: `${who}-${uniq}@example.org`, postalCode: '60601',
      answers: { occupation: 'healthcare-personnel' }, ...(language ? { language } : {}),
    });
    expect(r.status).toBe(201);
    const now = Date.now();
    const w = await call('POST', '/admin/windows', { name: `w ${who} ${uniq}`, opensAt: new Date(now - HOUR).toISOString(), closesAt: new Date(now + HOUR).toISOString(), criteria: { tiers: ['1a'] } }, ADMIN);
    const d = await call('POST', '/admin/draws', { label: `${who} ${uniq}`, invitations: 1, windowId: w.body.id, useEquityWeights: false }, ADMIN);
    expect(d.status).toBe(201);
    await new Promise((res) => setTimeout(res, 5));
    expect((await call('POST', `/admin/draws/${d.body.id}/run`, {}, ADMIN)).status).toBe(200);
    const invitation = await mailbox.waitFor((m) => m.to.includes(`${who}-${uniq}@example.org`) && /\/invitation\//.test(m.text));
    return { patientId: r.body.patientId, ticket: /\/invitation\/([A-Za-z0-9_-]{16,64})/.exec(invitation.text)![1]!, invitation };
  }

  async function claimAndBook(who: string, ticket: string, slotId: string): Promise<{ code: { subject: string; text: string }; appointmentId: string }> {
    expect((await call('POST', `/signup/tickets/${ticket}/code`)).status).toBe(202);
    const codeMail = await mailbox.waitFor((m) => m.to.includes(`${who}-${uniq}@example.org`) && /\b\d{6}\b/.test(m.text));
    const claim = await call('POST', `/signup/tickets/${ticket}/claim`, { code: /\b(\d{6})\b/.exec(codeMail.text)![1], birthDate: '1950-03-04' });
    expect(claim.status).toBe(200);
    const booked = await call('POST', '/fhir/Appointment/$book', {
      resourceType: 'Parameters', parameter: [{ name: 'appt-id', valueString: `Appointment/slot.${slotId}` }],
    } satisfies Parameters, { 'x-claim-token': claim.body.claimToken });
    expect(booked.status).toBe(200);
    return { code: codeMail, appointmentId: booked.body.entry[0].resource.id };
  }

  it('writes a Spanish registrant every mail in Spanish, with the clinic time, vaccine, address and map', async () => {
    const { patientId, ticket, invitation } = await registerAndInvite('sofia', 'es');
    // The language is the person's, in FHIR: Patient.communication.
    const patient = await rig.hub.repo.read('Patient', patientId);
    expect(patient.communication).toEqual([{ language: { coding: [{ system: 'urn:ietf:bcp:47', code: 'es', display: 'Spanish' }] }, preferred: true }]);

    // The registration is confirmed, in Spanish, with what happens next (issue 22, item 7).
    const registered = await mailbox.waitFor((m) => m.to.includes(`sofia-${uniq}@example.org`) && m.subject === 'Está inscrito para vacunarse');
    expect(registered.text).toContain('Qué sigue:');
    // With the short registration number people type (issue 21), not the registration's UUID.
    expect(registered.text).toMatch(/Su número de inscripción: R-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}\b/);
    expect(`${registered.text} ${registered.html ?? ''}`).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i);
    expect(invitation.subject).toBe('Está invitado a reservar su vacunación');
    expect(invitation.text).toContain('La invitación es válida hasta el');
    expect(invitation.text).not.toMatch(ISO_INSTANT);
    // The hub's zone (HUB_TIME_ZONE) for an invitation, which belongs to no clinic.
    expect(invitation.text).toMatch(/\bE[SD]T\b|GMT-[45]/);

    const { code, appointmentId } = await claimAndBook('sofia', ticket, slotIds[0]!);
    expect(code.subject).toBe('Su código de invitación para vacunarse');
    // The mail gives the short booking reference people read out on the phone (issue 21), not the id.
    const reference = formatReference(referenceOfAppointment(await rig.hub.repo.read('Appointment', appointmentId) as unknown as Appointment)!);
    const confirmation = await mailbox.waitFor((m) => m.to.includes(`sofia-${uniq}@example.org`) && m.text.includes(reference));
    expect(confirmation.subject).toBe('Su cita de vacunación está reservada');
    expect(confirmation.text).toContain('Cuándo: martes, 3 de diciembre de 2030');
    expect(confirmation.text).toMatch(/9:00\s?a\.\s?m\.\s?CST/);
    expect(confirmation.text).not.toMatch(/15:00|GMT|UTC/);
    expect(confirmation.text).toContain('Vacuna: COMIRNATY (fórmula 2023-2024, 12 años o más)');
    expect(confirmation.text).toMatch(/Dónde: Clinic \w+, 1 Main St, Chicago, MA 01201/);
    expect(confirmation.text).toContain('Mapa: https://www.openstreetmap.org/search?query=1%20Main%20St');
    expect(confirmation.text).toContain(`Referencia de la cita: ${reference}`);
    expect(confirmation.text).not.toContain(appointmentId);

    // Signing in to the wallet later: the code comes in Spanish too.
    const clientId = `wallet-${uniq}`;
    await registerClient(rig.hub.db, { id: clientId, name: 'Wallet', type: 'public', redirectUris: ['https://app.example/cb'], scope: 'patient/Immunization.rs openid fhirUser launch/patient' });
    const q = new URLSearchParams({
      response_type: 'code', client_id: clientId, redirect_uri: 'https://app.example/cb', scope: 'launch/patient openid patient/Immunization.rs',
      state: 's', aud: `${rig.url}/fhir`, code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
    });
    const start = await fetch(`${rig.url}/auth/authorize?${q}`, { redirect: 'manual' });
    expect(start.status).toBe(303);
    const requestId = new URL(start.headers.get('location')!, `${rig.url}/auth/`).searchParams.get('request')!;
    const cookie = start.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const sent = await fetch(`${rig.url}/auth/login`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie }, body: new URLSearchParams({ request: requestId, email: `sofia-${uniq}@example.org` }),
    });
    expect(sent.status).toBe(200);
    const signIn = await mailbox.waitFor((m) => m.to.includes(`sofia-${uniq}@example.org`) && /vaxhub/.test(m.subject));
    expect(signIn.subject).toBe('Su código para iniciar sesión en vaxhub');
    expect(signIn.text).toMatch(/^Su código para iniciar sesión en vaxhub es \d{6}\. Vence en 10 minutos\./);
  });

  it('writes English to someone who registered without a language', async () => {
    const { ticket, invitation } = await registerAndInvite('sam');
    expect(invitation.subject).toBe('You are invited to book your vaccination');
    expect(invitation.text).not.toMatch(ISO_INSTANT);
    const { code, appointmentId } = await claimAndBook('sam', ticket, slotIds[1]!);
    expect(code.subject).toBe('Your vaccination invitation code');
    const reference = formatReference(referenceOfAppointment(await rig.hub.repo.read('Appointment', appointmentId) as unknown as Appointment)!);
    const confirmation = await mailbox.waitFor((m) => m.to.includes(`sam-${uniq}@example.org`) && m.text.includes(reference));
    expect(confirmation.subject).toBe('Your vaccination appointment is booked');
    expect(confirmation.text).toMatch(/When: Tuesday, December 3, 2030 at 9:15\s?AM CST/);
    expect(confirmation.text).toContain('Where: Clinic');
  });
});
