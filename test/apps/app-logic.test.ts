/** Pure logic of the sign-up and admin apps: RFC 5545 output, distance sorting, Prometheus parsing, next-dose dates. */
import { buildCalendar, escapeText, foldLine } from '../../smart-apps/shared/ics.js';
import { distanceText, haversineKm, postalCentroid, sortByNearness } from '../../smart-apps/shared/geo.js';
import { byLabel, parseMetrics } from '../../smart-apps/admin/prom.js';
import { nextDose } from '../../smart-apps/signup/booking.js';
import type { AuditEvent } from 'fhir/r4';
import { errorOf, HubError } from '../../smart-apps/shared/api.js';
import { errorWords, PUBLIC_ERROR_CODES } from '../../smart-apps/shared/error-words.js';
import { catalogue, dayIn, isMessageKey, formatDate, formatTime, missingTranslations, setLanguage, t } from '../../smart-apps/shared/i18n.js';
import { auditAction, auditOutcome, auditWhat } from '../../smart-apps/admin/audit-view.js';
import { refusalText } from '../../smart-apps/admin/live-view.js';
import { productLabel } from '../../smart-apps/admin/supply-view.js';
import { fieldProblem } from '../../smart-apps/signup/register-view.js';
import { conceptText, vaccineName } from '../../smart-apps/shared/fhir-text.js';
import { parseProducts } from '../../src/scheduling/products.js';
import { readFileSync } from 'node:fs';

describe('iCalendar (RFC 5545)', () => {
  it('escapes TEXT values (3.3.11) and folds lines at 75 octets without splitting UTF-8 (3.1)', () => {
    expect(escapeText('a,b;c\\d\ne')).toBe('a\\,b\\;c\\\\d\\ne');
    const folded = foldLine(`SUMMARY:${'예방접종'.repeat(20)}`);
    for (const line of folded.split('\r\n')) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(75);
    expect(folded.split('\r\n').map((l, i) => (i ? l.slice(1) : l)).join('')).toBe(`SUMMARY:${'예방접종'.repeat(20)}`);
  });

  it('writes a VCALENDAR with a timed event, an alarm and an all-day event', () => {
    const ics = buildCalendar(
      [{ uid: 'a1@hub', start: '2030-06-03T09:00:00Z', end: '2030-06-03T09:15:00Z', summary: 'Vaccination, dose 1', location: 'Clinic; Main St', alarmMinutesBefore: 1440 }],
      [{ uid: 'a1-next@hub', date: '2030-06-24', summary: 'Dose 2 due' }],
      new Date('2030-06-01T12:00:00Z'),
    );
    const lines = ics.split('\r\n');
    expect(lines.slice(0, 2)).toEqual(['BEGIN:VCALENDAR', 'VERSION:2.0']);
    expect(lines).toContain('PRODID:-//vaxhub//sign-up and booking//EN');
    expect(lines).toContain('DTSTAMP:20300601T120000Z');
    expect(lines).toContain('DTSTART:20300603T090000Z');
    expect(lines).toContain('SUMMARY:Vaccination\\, dose 1');
    expect(lines).toContain('LOCATION:Clinic\\; Main St');
    expect(lines).toContain('TRIGGER:-PT1440M');
    expect(lines).toContain('DTSTART;VALUE=DATE:20300624');
    expect(lines).toContain('DTEND;VALUE=DATE:20300625');
    expect(ics.endsWith('END:VCALENDAR\r\n')).toBe(true);
    expect(() => buildCalendar([], [{ uid: 'x', date: '24/06/2030', summary: 'x' }])).toThrow(TypeError);
  });
});

describe('distance sorting', () => {
  const places = [
    { id: 'far', postalCode: '02139', position: { latitude: 42.3736, longitude: -71.1097 } },
    { id: 'near', postalCode: '01201', position: { latitude: 42.4501, longitude: -73.2454 } },
    { id: 'unplaced', postalCode: '01202' },
  ];
  it('measures great-circle distance', () => {
    expect(haversineKm(places[0]!.position!, places[1]!.position!)).toBeCloseTo(176, -1);
  });
  it('places a postal code at its clinics, else its 3-digit prefix, and sorts nearest first', () => {
    expect(postalCentroid('01201', places)).toEqual(places[1]!.position);
    expect(postalCentroid('01299', places)).toEqual(places[1]!.position);
    expect(postalCentroid('99999', places)).toBeUndefined();
    expect(sortByNearness('01201', places).map((p) => p.place.id)).toEqual(['near', 'far', 'unplaced']);
    // No centroid: by numeric closeness of the codes.
    expect(sortByNearness('99999', places).map((p) => p.place.id)).toEqual(['far', 'unplaced', 'near']);
  });
});

describe('Prometheus text', () => {
  it('reads samples with labels (escapes included) and sums by label', () => {
    const text = [
      '# HELP vaxhub_booking_gate_refusals_total x', '# TYPE vaxhub_booking_gate_refusals_total counter',
      'vaxhub_booking_gate_refusals_total{code="INVITATION_REQUIRED"} 3', 'vaxhub_booking_gate_refusals_total{code="OUTSIDE_WINDOW"} 1',
      'vaxhub_load_shed_total{reason="a \\"quoted\\" one"} 2', 'process_resident_memory_bytes 1.5e+08',
    ].join('\n');
    const s = parseMetrics(text);
    expect(byLabel(s, 'vaxhub_booking_gate_refusals_total', 'code')).toEqual(new Map([['INVITATION_REQUIRED', 3], ['OUTSIDE_WINDOW', 1]]));
    expect(s.find((x) => x.name === 'vaxhub_load_shed_total')?.labels.reason).toBe('a "quoted" one');
    expect(s.find((x) => x.name === 'process_resident_memory_bytes')?.value).toBe(1.5e8);
  });
});

describe('next dose', () => {
  const cfg = { products: [{ cvx: '208', name: 'Pfizer', dosesInSeries: 2, minIntervalDays: [21], recommendedIntervalDays: [21], graceDays: 4 }, { cvx: '212', name: 'Janssen', dosesInSeries: 1, minIntervalDays: [], recommendedIntervalDays: [], graceDays: 4 }] };
  it('is due after the recommended interval and counts from the minimum minus the 4-day grace', () => {
    expect(nextDose(cfg, '208', 1, '2030-06-03T09:00:00Z')).toEqual({ doseNumber: 2, earliest: '2030-06-20', due: '2030-06-24' });
    expect(nextDose(cfg, '208', 2, '2030-06-24T09:00:00Z')).toBeUndefined();
    expect(nextDose(cfg, '212', 1, '2030-06-03T09:00:00Z')).toBeUndefined();
  });
});

describe('catalogue', () => {
  it('has every sign-up and admin string in English, Spanish and Korean', () => {
    expect(missingTranslations()).toEqual([]);
  });
});

describe('vaccine names in the apps', () => {
  const cvx = (code: string, text?: string) => ({ coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code }], ...(text ? { text } : {}) });

  it('come from the hub product catalogue, so the wallet, the booked page and "My booking" agree', () => {
    const catalogue = parseProducts(JSON.parse(readFileSync(new URL('../../profiles/vaccine-products.json', import.meta.url), 'utf8')));
    for (const code of ['208', '300', '309', '187', '197', '150']) {
      expect(vaccineName(code)).toBe(catalogue.get(code)!.name);
      // A card's or a sender's own wording does not change the name a person sees.
      expect(conceptText(cvx(code, 'COVID-19, mRNA, LNP-S, PF'))).toBe(catalogue.get(code)!.name);
    }
  });

  it('name the right maker and leave no known code bare', () => {
    expect(conceptText(cvx('300'))).toMatch(/^Pfizer-BioNTech/);
    expect(conceptText(cvx('187'))).toBe('SHINGRIX');
    expect(conceptText(cvx('197'))).toMatch(/^Fluzone High-Dose/);
    expect(conceptText(cvx('210'))).toMatch(/AstraZeneca/);
    expect(conceptText(cvx('999'))).toBe('CVX 999');
    expect(conceptText({ coding: [{ system: 'http://snomed.info/sct', code: '368208006', display: 'Left upper arm' }] })).toBe('Left upper arm');
  });
});

describe('console wording (issue 22, items 8 and 9)', () => {
  afterEach(() => setLanguage('en'));

  it('chooses plural forms by the language rules: never "1 invitations sent"', () => {
    expect(t('draws.ran', { n: 1 })).toBe('Draw run: 1 invitation sent.');
    expect(t('draws.ran', { n: 3 })).toBe('Draw run: 3 invitations sent.');
    expect(t('draws.ran', { n: 0 })).toBe('Draw run: no invitations sent.');
    expect(t('draws.ran', { n: 1200 })).toBe('Draw run: 1,200 invitations sent.');
    expect(t('audit.found', { n: 1 })).toBe('1 event');
    expect(t('supply.expiring', { days: 1 })).toBe('Expiring within 1 day');
    setLanguage('es');
    expect(t('draws.ran', { n: 1 })).toBe('Sorteo realizado: 1 invitación enviada.');
    expect(t('draws.ran', { n: 2 })).toBe('Sorteo realizado: 2 invitaciones enviadas.');
    setLanguage('ko');
    expect(t('draws.ran', { n: 1 })).toBe('추첨 완료: 초대장 1건 발송.');
    // Every plural message in every language has an `other` form (the fallback of any category).
    for (const [key, entry] of Object.entries(catalogue())) {
      for (const text of Object.values(entry)) if (/, plural,/.test(text)) expect(`${key}: ${/other \{/.test(text)}`).toBe(`${key}: true`);
    }
  });

  it('names a product once, by the name people know, with its code after it', () => {
    expect(productLabel('301', 'CVX 301')).toBe('Pfizer-BioNTech COVID-19 Vaccine, Bivalent (5-11 years) (CVX 301)');
    expect(productLabel('999', 'CVX 999')).toBe('CVX 999');
    expect(productLabel('999', 'Some vaccine')).toBe('Some vaccine (CVX 999)');
  });

  it('shows audit rows in words: the action, the outcome and a decoded query, not "E admin", "0" or base64', () => {
    const e: AuditEvent = {
      resourceType: 'AuditEvent', type: { code: 'rest' }, action: 'E', recorded: '2026-12-07T12:00:00Z', outcome: '0',
      subtype: [{ code: 'admin' }], agent: [{ requestor: true, who: { display: 'x' } }], source: { observer: { display: 'hub' } },
      entity: [{ what: { display: 'POST /auth/admin/staff' } }, { query: Buffer.from('Patient?name=Müller', 'utf8').toString('base64') }],
    };
    expect(auditAction(e)).toBe('Administration');
    expect(auditOutcome(e)).toBe('Success');
    expect(auditWhat(e)).toBe('POST /auth/admin/staff; Query: Patient?name=Müller');
    expect(auditOutcome({ ...e, outcome: '4', outcomeDesc: 'denied' })).toBe('Refused');
    expect(auditOutcome({ ...e, outcome: '8', outcomeDesc: 'database gone' })).toBe('Error: database gone');
    setLanguage('es');
    expect(auditAction({ ...e, subtype: [{ code: 'search' }] })).toBe('Búsqueda');
  });

  it('names refusal reasons in words in the console language, not as codes', () => {
    expect(refusalText('INVITATION_USED')).toBe('Invitation already used');
    expect(refusalText('rate-limit-registrant')).toBe('Rate limit (same person or address)');
    expect(refusalText('SOMETHING_NEW')).toBe('SOMETHING_NEW');
    setLanguage('es');
    expect(refusalText('INVITATION_USED')).toBe('Invitación ya usada');
    setLanguage('ko');
    expect(refusalText('INVITATION_REQUIRED')).toBe('초대장 없음');
  });
});

describe('distances in the units of the person\'s region (issue 22, item 7)', () => {
  it('writes miles for en-US and es-US, kilometres elsewhere, in the page language', () => {
    expect(distanceText(16.09344, 'en', ['en-US'])).toBe('10 mi');
    expect(distanceText(5, 'es', ['es-US'])).toBe('3,1 mi');
    expect(distanceText(5, 'es', ['es-ES'])).toBe('5 km');
    expect(distanceText(5, 'ko', ['ko-KR'])).toMatch(/^5\s?km$/);
    // No browser locale: the page language's likely region (en -> US).
    expect(distanceText(160.9344, 'en', [])).toBe('100 mi');
    // Next door (the same postal area's centre): not "0 mi".
    expect(distanceText(0.01, 'en', ['en-US'])).toBe('<0.1 mi');
    expect(distanceText(0, 'es', ['es-US'])).toBe('<0,1 mi');
  });
});

describe('registration problems in words (issue 22, item 7)', () => {
  afterEach(() => setLanguage('en'));
  it('explains each field the hub refused in the person\'s language, not in the API\'s terms', () => {
    expect(fieldProblem({ message: 'postalCode must be 2-10 letters or digits', expression: 'postalCode' })).toBe('Enter your ZIP or postal code (for example, 60601).');
    expect(fieldProblem({ message: 'birthDate must be a date YYYY-MM-DD', expression: 'birthDate' })).toMatch(/^Enter your date of birth/);
    expect(fieldProblem({ message: 'birthDate is in the future', expression: 'birthDate' })).toMatch(/cannot be in the future/);
    expect(fieldProblem({ message: 'An email address or a phone number is required', expression: 'email' })).toMatch(/^Enter your email address/);
    expect(fieldProblem({ message: 'Unknown risk condition x', expression: 'answers.conditions[2]' })).toBe('Choose health conditions only from the list.');
    expect(fieldProblem({ message: 'Something new', expression: 'other' })).toBe('Something new');
    setLanguage('es');
    expect(fieldProblem({ message: 'postalCode must be 2-10 letters or digits', expression: 'postalCode' })).toBe('Escriba su código postal (por ejemplo, 60601).');
  });
});

describe('hub refusals in the person\'s words (issue 22, item 4)', () => {
  afterEach(() => setLanguage('en'));

  it('has a sentence in every language for every code the public can meet, and uses it before the hub\'s English', async () => {
    expect(PUBLIC_ERROR_CODES.filter((c) => !isMessageKey(`err.${c}`))).toEqual([]);
    setLanguage('es');
    const busy = new HubError(503, 'DATABASE_UNAVAILABLE', 'The database is unavailable for a moment; retry after the time in Retry-After', 1);
    expect(errorWords(busy)).toBe('El sistema está ocupado un momento. No se perdió nada; vuelva a intentarlo en 1 segundo.');
    // The wallet reads the answer itself: the code inside the OperationOutcome, the wait from Retry-After.
    const res = new Response(JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'conflict', diagnostics: 'The appointment is not in a state that allows this step', details: { coding: [{ code: 'APPOINTMENT_STATE' }] } }] }), { status: 409 });
    expect(errorWords(errorOf(await res.json(), 409, null))).toMatch(/^Esto ya cambió/);
    // A code without a sentence leaves the caller to show the hub's text in its own sentence.
    expect(errorWords(new HubError(400, 'SOMETHING_NEW', 'x'))).toBeUndefined();
  });
});

describe('public page plurals and times (issue 22)', () => {
  afterEach(() => setLanguage('en'));

  it('counts clinics, places and attempts by the language rules ("1 centros" was shown)', () => {
    setLanguage('es');
    expect(t('find.results', { n: 1 })).toBe('1 centro con lugares libres, los más cercanos primero');
    expect(t('find.results', { n: 2 })).toBe('2 centros con lugares libres, los más cercanos primero');
    expect(t('find.holdAt', { time: '9:00', date: '10 dic 2026', product: 'SHINGRIX', n: 1 })).toBe('Apartar 9:00, 10 dic 2026: SHINGRIX (1 libre)');
    expect(t('viewer.wrongPasscode', { remaining: 1 })).toBe('Código incorrecto. Queda 1 intento.');
    expect(t('err.TOO_MANY_REQUESTS', { s: 1 })).toBe('Mucha gente lo intenta ahora. Vuelva a intentarlo en 1 segundo.');
    setLanguage('en');
    expect(t('find.results', { n: 1 })).toBe('1 clinic with free places, nearest first');
    expect(t('find.places', { n: 1 })).toBe('1 place');
  });

  it('counts doses, people and places in the clinic console by the language rules too (issue 22, item 9)', () => {
    expect(t('clinic.lotLine', { lot: 'A1', expires: 'Jan 1', n: 1 })).toBe('A1, expires Jan 1, 1 dose');
    expect(t('clinic.offer', { n: 1 })).toBe('Invite 1 more person for today (a draw)');
    expect(t('clinic.offer', { n: 4 })).toBe('Invite 4 more people for today (a draw)');
    expect(t('clinic.confirmOffer', { n: 1 })).toBe('Draw 1 person from those registered and invite them to book today\'s free place?');
    expect(t('clinic.drawLabel', { n: 1, clinic: 'C', day: 'D' })).toBe('Same day: 1 place at C on D');
    expect(t('clinic.offered', { n: 1, id: 'x' })).toBe('1 person invited by draw x; its seed is published with the result.');
    setLanguage('es');
    expect(t('clinic.offer', { n: 1 })).toBe('Invitar a 1 persona más para hoy (un sorteo)');
    expect(t('clinic.offered', { n: 2, id: 'x' })).toBe('2 personas invitadas en el sorteo x; su semilla se publica con el resultado.');
  });

  it('writes a clinic\'s times on its own clock, naming the zone when it is not the browser\'s', () => {
    setLanguage('es');
    const zone = new Intl.DateTimeFormat().resolvedOptions().timeZone;
    const other = zone === 'America/Chicago' ? 'America/Denver' : 'America/Chicago';
    // 15:00 UTC on 8 December 2026 is 9:00 in Chicago (CST) and 8:00 in Denver (MST).
    // (Node's locale is en-US, so Spanish is written as 'es' writes it: 24-hour clock, 'GMT-6'; es-US in the browser.)
    const hour = other === 'America/Chicago' ? '9' : '8';
    expect(formatTime('2026-12-08T15:00:00Z', other)).toMatch(new RegExp(`^${hour}:00 (GMT-[67]|CST|MST)$`));
    expect(formatDate('2026-12-08T15:00:00Z', true, other)).toMatch(new RegExp(`^8 dic 2026, ${hour}:00 (GMT-[67]|CST|MST)$`));
    // On the browser's own clock the zone is not named.
    expect(formatTime('2026-12-08T15:00:00Z', zone)).not.toMatch(/[A-Z]{3}|GMT/);
    // A 9 PM slot in Chicago is on that day, though it is the next day in UTC.
    expect(dayIn('2026-12-09T03:00:00Z', 'America/Chicago')).toBe('2026-12-08');
    // A date without a time is never shifted.
    expect(formatDate('2026-12-08', true, 'Asia/Seoul')).toBe('8 dic 2026');
  });
});
