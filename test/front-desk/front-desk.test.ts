/**
 * The front desk's API (issue 21) on a real hub with the real access policy and booking gate, on PGlite and
 * PostgreSQL: staff find people (typos, accents, birth date, phone, registration number, booking reference),
 * register someone with no email or phone, book for them within the fairness rules (their invitation used) and
 * outside them (refused without a reason, booked with one), reschedule, cancel, hand over the confirmation (print
 * data with the QR code, SMS through the outbox), check in at the door with FHIR's $check-in found by the short
 * reference, and admit a walk-in in one step. Each action leaves an AuditEvent naming the staff member.
 */
import { randomBytes } from 'node:crypto';
import type { Appointment, AuditEvent, Bundle } from 'fhir/r4';
import { ADMIN_CLIENT_ID } from '../../src/apps/wiring.js';
import { searchAudit } from '../../src/auth/audit.js';
import { addStaff } from '../../src/auth/staff.js';
import { issueAccessToken } from '../../src/auth/token-service.js';
import { ALPHABET, BOOKING_REFERENCE_SYSTEM, checkCharacter, formatReference, parseReference, referenceOfAppointment } from '../../src/scheduling/booking-reference.js';
import { issueTicket } from '../../src/scheduling/invitations/tickets.js';
import { scheduleWindow } from '../../src/scheduling/invitations/waves.js';
import { loadProducts } from '../../src/scheduling/products.js';
import { parseOpeningHours } from '../../src/scheduling/slot-generation.js';
import { generateSlots } from '../../src/scheduling/slot-store.js';
import { receiveLot } from '../../src/scheduling/supply.js';
import { backends, type TestHub } from '../helpers/hub.js';
import { startMailbox, startOpeningNightHub } from '../opening-night/opening-night-hub.js';
import { seedClinic } from '../scheduling/support.js';

const tag = randomBytes(3).toString('hex');

/** A clinic whose slots start within the next hour, in a zone where it is about midday (whatever the UTC time). */
async function walkInClinic(t: TestHub): Promise<string> {
  const ctx = { db: t.hub.db, repo: t.hub.repo, products: loadProducts() };
  const clinic = await seedClinic(ctx, { cvx: '187', slots: 1, capacity: 1, doses: 10, day: '2031-01-01', lot: 'WALK-1' });
  const now = Date.now();
  const offset = 12 - new Date(now).getUTCHours();
  const zone = offset === 0 ? 'Etc/GMT' : offset > 0 ? `Etc/GMT-${offset}` : `Etc/GMT+${-offset}`;
  const local = new Date(now + offset * 3_600_000);
  const day = local.toISOString().slice(0, 10);
  const quarter = Math.ceil((local.getUTCMinutes() + 1) / 15) * 15;
  const start = `${String(local.getUTCHours() + Math.floor(quarter / 60)).padStart(2, '0')}:${String(quarter % 60).padStart(2, '0')}`;
  const end = `${String(local.getUTCHours() + Math.floor(quarter / 60) + 1).padStart(2, '0')}:${String(quarter % 60).padStart(2, '0')}`;
  await generateSlots(t.hub.db, t.hub.repo, clinic.scheduleId, { from: day, to: day, hours: parseOpeningHours(`daily ${start}-${end}`), slotMinutes: 15, capacity: 2, timeZone: zone });
  await t.hub.db.transaction((tx) => receiveLot(tx, { locationId: clinic.locationId, productCvx: '187', lot: 'WALK-2', doses: 10, expiresOn: '2031-01-01' }));
  return clinic.locationId;
}

describe.each(backends())('front desk API (%s)', (backend) => {
  let t: TestHub;
  let mailbox: Awaited<ReturnType<typeof startMailbox>>;
  let token: string;
  let staffRef: string;
  let clinic: { locationId: string; slotIds: string[] };
  let walkInLocation: string;

  const call = async <T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${t.url}${path}`, {
      method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  };

  /** The audit trail of one person, once the buffered writer has stored the entry wanted. */
  const auditOf = async (patientId: string, wanted: (e: AuditEvent) => boolean): Promise<AuditEvent> => {
    for (let i = 0; i < 100; i++) {
      const hit = (await searchAudit(t.hub.db, { patientId, limit: 200 })).find(wanted);
      if (hit) return hit;
      await new Promise((ok) => setTimeout(ok, 100));
    }
    throw new Error(`no such audit entry for Patient/${patientId}`);
  };
  const byStaff = (e: AuditEvent): boolean => e.agent.some((a) => a.who?.reference === staffRef);
  const about = (e: AuditEvent, text: string): boolean => (e.outcomeDesc ?? '').includes(text);

  beforeAll(async () => {
    mailbox = await startMailbox();
    t = await startOpeningNightHub(backend, { smtpUrl: mailbox.url, smsEmailGateway: '{number}@sms.test' });
    const { account } = await addStaff(t.hub.db, t.hub.repo, { email: `desk.${tag}@clinic.example`, name: 'Dora Desk' });
    staffRef = account.fhirUser;
    token = (await issueAccessToken(t.hub.db, { issuer: t.url, audience: t.fhirUrl }, {
      client_id: ADMIN_CLIENT_ID, scope: 'user/Practitioner.r openid fhirUser vaxhub/operator', kind: 'user', sub: account.fhirUser, fhirUser: account.fhirUser,
    }, 3600)).token;
    const day = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
    clinic = await seedClinic({ db: t.hub.db, repo: t.hub.repo, products: loadProducts() }, { cvx: '187', slots: 4, capacity: 2, doses: 20, day, lot: `DESK-${tag}` });
    walkInLocation = await walkInClinic(t);
  }, 120_000);

  afterAll(async () => {
    await t?.close();
    await mailbox?.close();
  });

  it('registers someone with no email or phone, finds them by sounds-alike name, date, registration number', async () => {
    const person = { name: { family: `García-${tag}`, given: ['José'] }, birthDate: '1941-05-09', postalCode: '01201', confirmationBy: 'post',
      address: { line: ['12 Elm Street'], city: 'Pittsfield', state: 'MA' }, answers: { occupation: 'healthcare-personnel' } };
    const noAddress = await call('POST', '/admin/front-desk/people', { ...person, address: undefined });
    expect(noAddress.status).toBe(400);
    expect(JSON.stringify(noAddress.body)).toContain('street address');
    const reg = await call<{ patientId: string; registrationId: string; registrationNumber: string; existing: boolean }>('POST', '/admin/front-desk/people', person);
    expect(reg.status).toBe(201);
    // The number the person is told (on the letter) is the short one.
    expect(reg.body.registrationNumber).toMatch(/^R-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
    expect(reg.body.existing).toBe(false);
    const audit = await auditOf(reg.body.patientId, (e) => byStaff(e) && e.action === 'C');
    expect(audit.outcome).toBe('0');
    expect(audit.outcomeDesc).toContain('confirmation by post');
    // Registering the same person again shows them instead.
    const again = await call<{ patientId: string; existing: boolean }>('POST', '/admin/front-desk/people', person);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ existing: true, patientId: reg.body.patientId });

    // Found by a misspelt name without accents (and with a typo in the family name), by birth date, by registration.
    for (const q of [`jose garsia-${tag}`, `Jose Garcia-${tag} 1941-05-09`, `Josie García-${tag}`, `05/09/1941 garcia-${tag}`, reg.body.registrationId,
      reg.body.registrationNumber, reg.body.registrationNumber.toLowerCase().replace(/-/g, ' ').replace(/0/g, 'o')]) {
      const found = await call<{ matches: Array<{ patientId: string; matchedBy: string[] }> }>('GET', `/admin/front-desk/people?q=${encodeURIComponent(q)}`);
      expect(found.status).toBe(200);
      expect(found.body.matches.map((m) => m.patientId)).toContain(reg.body.patientId);
    }
    const wrongDate = await call<{ matches: Array<{ patientId: string }> }>('GET', `/admin/front-desk/people?q=${encodeURIComponent(`jose garcia-${tag} 1950-01-01`)}`);
    expect(wrongDate.body.matches.map((m) => m.patientId)).not.toContain(reg.body.patientId);
    const search = await auditOf(reg.body.patientId, (e) => byStaff(e) && e.subtype?.[0]?.code === 'search');
    expect(search.outcome).toBe('0');

    // Outside the rules (registered, not invited): refused without a reason, and the refusal is audited.
    const refused = await call<{ issue: Array<{ diagnostics: string; details: { coding: Array<{ code: string }> } }> }>('POST', '/admin/front-desk/bookings', { patientId: reg.body.patientId, slotId: clinic.slotIds[0] });
    expect(refused.status).toBe(422);
    expect(refused.body.issue[0]!.details.coding[0]!.code).toBe('OUTSIDE_FAIRNESS_RULES');
    expect(refused.body.issue[0]!.diagnostics).toContain('NOT_INVITED');
    await auditOf(reg.body.patientId, (e) => byStaff(e) && e.outcome === '4' && about(e, 'NOT_INVITED'));

    // With a reason: booked, the reason audited; the Appointment carries its short reference.
    const reason = 'Housebound, no internet; GP asked us to book';
    const booked = await call<{ appointment: Appointment; override: boolean }>('POST', '/admin/front-desk/bookings', { patientId: reg.body.patientId, slotId: clinic.slotIds[0], reason });
    expect(booked.status).toBe(201);
    expect(booked.body.override).toBe(true);
    const ref = referenceOfAppointment(booked.body.appointment)!;
    expect(parseReference(ref)).toEqual({ ok: true, reference: ref });
    const bookedAudit = await auditOf(reg.body.patientId, (e) => byStaff(e) && e.action === 'C' && about(e, reason));
    expect(bookedAudit.outcomeDesc).toContain('outside the fairness rules (NOT_INVITED)');
    expect(bookedAudit.entity?.some((x) => x.what?.reference === `Appointment/${booked.body.appointment.id}`)).toBe(true);

    // The booking's own rules hold for staff too, reason or not: the next slot would be dose 2 far too soon.
    const twice = await call<{ issue: Array<{ details: { coding: Array<{ code: string }> } }> }>('POST', '/admin/front-desk/bookings', { patientId: reg.body.patientId, slotId: clinic.slotIds[1], reason });
    expect(twice.status).toBe(422);
    expect(twice.body.issue[0]!.details.coding[0]!.code).toBe('INTERVAL_TOO_SHORT');

    // Found by the reference as typed (lower case, dash); the person's file lists the booking by reference.
    const byRef = await call<{ matches: Array<{ patientId: string; matchedBy: string[] }> }>('GET', `/admin/front-desk/people?q=${encodeURIComponent(formatReference(ref).toLowerCase())}`);
    expect(byRef.body.matches[0]).toMatchObject({ patientId: reg.body.patientId, matchedBy: ['bookingReference'] });
    // About one reference in twenty has letters only and reads like a name: found as a reference all the same.
    const letters = [...ALPHABET].filter((c) => /[A-Z]/.test(c));
    let letterRef = '';
    while (!/^[A-Z]{8}$/.test(letterRef)) {
      const data = Array.from(randomBytes(7), (b) => letters[b % letters.length]).join('');
      letterRef = data + checkCharacter(data);
    }
    const bookedNow = await t.hub.repo.read<Appointment & { [k: string]: unknown }>('Appointment', booked.body.appointment.id!);
    await t.hub.repo.update({ ...bookedNow, identifier: [{ system: BOOKING_REFERENCE_SYSTEM, value: letterRef }] });
    for (const typed of [formatReference(letterRef).toLowerCase(), `${letterRef.slice(0, 4)} ${letterRef.slice(4)}`]) {
      const byLetters = await call<{ matches: Array<{ patientId: string; matchedBy: string[] }> }>('GET', `/admin/front-desk/people?q=${encodeURIComponent(typed)}`);
      expect(byLetters.body.matches[0]).toMatchObject({ patientId: reg.body.patientId, matchedBy: expect.arrayContaining(['bookingReference']) });
    }
    await t.hub.repo.update({ ...(await t.hub.repo.read<Appointment & { [k: string]: unknown }>('Appointment', booked.body.appointment.id!)), identifier: bookedNow.identifier });
    const file = await call<{ appointments: Array<{ reference: string; status: string }>; registrations: Array<{ confirmationBy: string }> }>('GET', `/admin/front-desk/people/${reg.body.patientId}`);
    expect(file.body.appointments).toEqual([expect.objectContaining({ reference: formatReference(ref), status: 'booked', locationName: expect.stringMatching(/^Clinic /) })]);
    expect(file.body.registrations[0]!.confirmationBy).toBe('post');

    // The confirmation to print or post: the person's address, the facts and a QR code of the reference.
    const letter = await call<{ reference: string; qrSvg: string; person: { addressLines: string[] }; lines: string[] }>('GET', `/admin/front-desk/bookings/${booked.body.appointment.id}/confirmation`);
    expect(letter.body.reference).toBe(formatReference(ref));
    expect(letter.body.qrSvg).toMatch(/^<svg/);
    expect(letter.body.person.addressLines[0]).toBe('12 Elm Street');
    expect(letter.body.lines.join('\n')).toContain(formatReference(ref));
    // By SMS, through the outbox to the email-to-SMS gateway.
    const sms = await call('POST', `/admin/front-desk/bookings/${booked.body.appointment.id}/confirmation`, { channel: 'sms', to: '+1 (555) 010-7788' });
    expect(sms.status).toBe(202);
    const text = await mailbox.waitFor((m) => m.to.includes('15550107788@sms.test'));
    expect(text.text).toContain(formatReference(ref));
    await auditOf(reg.body.patientId, (e) => byStaff(e) && about(e, 'confirmation by sms'));
    const noEmail = await call('POST', `/admin/front-desk/bookings/${booked.body.appointment.id}/confirmation`, { channel: 'email' });
    expect(noEmail.status).toBe(400);

    // Rescheduled on the phone: the new booking has its own reference, the old one is cancelled, both or neither.
    const moved = await call<{ appointment: Appointment }>('POST', '/admin/front-desk/bookings', { patientId: reg.body.patientId, slotId: clinic.slotIds[2], rescheduleOf: booked.body.appointment.id });
    expect(moved.status).toBe(201);
    const movedRef = referenceOfAppointment(moved.body.appointment)!;
    expect(movedRef).not.toBe(ref);
    const old = await t.hub.repo.read<Appointment & { [k: string]: unknown }>('Appointment', booked.body.appointment.id!);
    expect(old.status).toBe('cancelled');
    await auditOf(reg.body.patientId, (e) => byStaff(e) && e.action === 'U' && about(e, 'rescheduled'));

    // At the door: found through FHIR by the reference, checked in with $check-in, which the FHIR audit names.
    const found = await fetch(`${t.fhirUrl}/Appointment?identifier=${encodeURIComponent(`${BOOKING_REFERENCE_SYSTEM}|${movedRef}`)}&_include=Appointment:patient`, { headers: { authorization: `Bearer ${token}` } });
    const bundle = (await found.json()) as Bundle;
    expect(bundle.entry?.map((e) => e.resource?.resourceType).sort()).toEqual(['Appointment', 'Patient']);
    const checkIn = await fetch(`${t.fhirUrl}/Appointment/${moved.body.appointment.id}/$check-in`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' }, body: JSON.stringify({ resourceType: 'Parameters' }) });
    expect(checkIn.status).toBe(200);
    expect(((await checkIn.json()) as Appointment).status).toBe('checked-in');
    await auditOf(reg.body.patientId, (e) => byStaff(e) && e.subtype?.[0]?.code === 'operation');
  }, 120_000);

  it('finds a person by phone number however it is typed, and by email in any case', async () => {
    const line = String(1000 + (parseInt(tag, 16) % 9000));
    const email = `Mae.Phone-${tag}@Example.org`;
    const reg = await call<{ patientId: string }>('POST', '/admin/front-desk/people', {
      name: { family: `Phone-${tag}`, given: ['Mae'] }, birthDate: '1952-03-04', postalCode: '01201', phone: `+1 413 555 ${line}`, email, confirmationBy: 'sms',
      answers: { occupation: 'healthcare-personnel' },
    });
    expect(reg.status).toBe(201);
    for (const [q, by] of [[`+1 (413) 555-${line}`, 'phone'], [`1.413.555.${line}`, 'phone'], [`413 555 ${line}`, 'phone'], [`mae 413-555-${line}`, 'phone'], [email.toLowerCase(), 'email'], [email.toUpperCase(), 'email']] as const) {
      const found = await call<{ matches: Array<{ patientId: string; matchedBy: string[] }> }>('GET', `/admin/front-desk/people?q=${encodeURIComponent(q)}`);
      expect(found.status).toBe(200);
      expect(found.body.matches.find((m) => m.patientId === reg.body.patientId)?.matchedBy).toContain(by);
    }
    // Another number finds nobody by this one.
    const other = await call<{ matches: Array<{ patientId: string }> }>('GET', `/admin/front-desk/people?q=${encodeURIComponent(`+1 413 556 ${line}`)}`);
    expect(other.body.matches.map((m) => m.patientId)).not.toContain(reg.body.patientId);
    await auditOf(reg.body.patientId, (e) => byStaff(e) && e.subtype?.[0]?.code === 'search');
  }, 60_000);

  it('books within the rules with the person\'s invitation (used), and cancels for them', async () => {
    const reg = await call<{ patientId: string; registrationId: string }>('POST', '/admin/front-desk/people', {
      name: { family: `Nguyen-${tag}`, given: ['Lan'] }, birthDate: '1950-02-03', postalCode: '01201', confirmationBy: 'clinic', answers: { occupation: 'healthcare-personnel' },
    });
    expect(reg.status).toBe(201);
    const window = await scheduleWindow(t.hub.db, { name: `desk-${tag}`, opensAt: new Date(Date.now() - 3_600_000).toISOString(), closesAt: new Date(Date.now() + 86_400_000).toISOString(), criteria: {} });
    const ticket = await issueTicket(t.hub.db, { registrantId: reg.body.registrationId, windowId: window.id, now: new Date() });
    const file = await call<{ standing: { withinRules: boolean; ticket: { ref: string } } }>('GET', `/admin/front-desk/people/${reg.body.patientId}`);
    expect(file.body.standing).toMatchObject({ withinRules: true, ticket: { ref: ticket.ref } });
    const booked = await call<{ appointment: Appointment; override: boolean }>('POST', '/admin/front-desk/bookings', { patientId: reg.body.patientId, slotId: clinic.slotIds[1] });
    expect(booked.status).toBe(201);
    expect(booked.body.override).toBe(false);
    const used = await t.hub.db.query<{ status: string }>('SELECT status FROM invitation_ticket WHERE ref = $1', [ticket.ref]);
    expect(used.rows[0]!.status).toBe('used');
    await auditOf(reg.body.patientId, (e) => byStaff(e) && about(e, `within the fairness rules (invitation ${ticket.ref})`));

    const cancelled = await call<{ appointment: Appointment }>('POST', `/admin/front-desk/bookings/${booked.body.appointment.id}/cancel`, { reason: 'rang to cancel, in hospital' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.appointment.status).toBe('cancelled');
    await auditOf(reg.body.patientId, (e) => byStaff(e) && e.action === 'U' && about(e, 'in hospital'));
  }, 60_000);

  it('admits a walk-in in one step (registered, booked, checked in) where a place is free within the hour', async () => {
    const person = { name: { family: `Walker-${tag}`, given: ['Ada'] }, birthDate: '1939-11-30', postalCode: '01201', answers: { occupation: 'healthcare-personnel' } };
    const noReason = await call('POST', '/admin/front-desk/walk-ins', { person, locationId: walkInLocation });
    expect(noReason.status).toBe(422);
    const nobody = await call<{ matches: unknown[] }>('GET', `/admin/front-desk/people?q=${encodeURIComponent(`Walker-${tag} 1939-11-30`)}`);
    expect(nobody.body.matches).toEqual([]);
    const r = await call<{ patientId: string; checkedIn: Appointment; registration: { existing: boolean } }>('POST', '/admin/front-desk/walk-ins', { person, locationId: walkInLocation, reason: 'Walked in, 85 years old, clinic has places' });
    expect(r.status).toBe(201);
    expect(r.body.registration.existing).toBe(false);
    expect(r.body.checkedIn.status).toBe('checked-in');
    await auditOf(r.body.patientId, (e) => byStaff(e) && about(e, 'walk-in registered now, booked and checked in'));
    // No place left at a clinic with none: nothing is written, staff are told.
    const none = await call<{ issue: Array<{ details: { coding: Array<{ code: string }> } }> }>('POST', '/admin/front-desk/walk-ins', { patientId: r.body.patientId, locationId: clinic.locationId, reason: 'Walked in, 85 years old, clinic has places' });
    expect(none.status).toBe(409);
    expect(none.body.issue[0]!.details.coding[0]!.code).toBe('NO_WALK_IN_PLACE');
  }, 60_000);

  it('answers bad input with an OperationOutcome, and non-operators with 401/403', async () => {
    expect((await call('GET', '/admin/front-desk/people?q=%20')).status).toBe(400);
    expect((await call('POST', '/admin/front-desk/bookings', { patientId: '../x', slotId: 'y' })).status).toBe(400);
    expect((await call('POST', '/admin/front-desk/bookings', { patientId: 'nobody', slotId: clinic.slotIds[3], reason: 'short' })).status).toBe(400);
    expect((await call('GET', '/admin/front-desk/people/no-such-person')).status).toBe(404);
    expect((await fetch(`${t.url}/admin/front-desk/people?q=x`)).status).toBe(401);
  });
});
