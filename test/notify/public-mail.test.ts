/** The public mail catalogue and its formats (issue 22): every message in every language, local times, places. */
import type { Location } from 'fhir/r4';
import { addressLine, clinicTimeZone, formatWhen, mailLanguage, mapLink, preferredLanguage, TIMEZONE_EXTENSION } from '../../src/notify/mail-locale.js';
import { bookedMail, followupMail, invitationCodeMail, invitationMail, missingMailTranslations, registeredMail, shortfallMail } from '../../src/notify/public-mail.js';
import { missingFollowupText } from '../../src/safety/followup/text.js';
import { admissionMailText } from '../../src/scheduling/opening-night/mail-renderers.js';
import { ConfigError, loadConfig } from '../../src/config/config.js';

const clinic: Location = {
  resourceType: 'Location', name: 'Springfield Community Vaccination Site', status: 'active',
  address: { line: ['412 Main St'], city: 'Springfield', state: 'IL', postalCode: '62701' },
  position: { latitude: 39.7817, longitude: -89.6501 },
  extension: [{ url: TIMEZONE_EXTENSION, valueCode: 'America/Chicago' }],
};

describe('public mail', () => {
  it('has every message in English, Spanish and Korean', () => {
    expect(missingMailTranslations()).toEqual([]);
    // The follow-up check-in's pages and Questionnaire (src/safety/followup/text.ts) too.
    expect(missingFollowupText()).toEqual([]);
  });

  it('a follow-up check-in carries the form link and the stop link, in the language; the text form is one short line', () => {
    const f = { vaccine: 'COMIRNATY', date: '7 de diciembre de 2026', link: 'https://hub.example/followup/T', stopLink: 'https://hub.example/followup/T/stop' };
    const mail = followupMail('es', f);
    expect(mail.subject).toBe('¿Cómo se siente después de vacunarse?');
    expect(mail.text).toContain('(COMIRNATY, 7 de diciembre de 2026)');
    expect(mail.text.split('\n')).toEqual(expect.arrayContaining([f.link, `Para dejar de recibir estas consultas: ${f.stopLink}`]));
    const sms = followupMail('ko', f, 'sms');
    expect(sms.text).not.toContain('\n');
    expect(sms.text).toContain(f.stopLink);
    expect(sms.text.length).toBeLessThan(160);
  });

  it('chooses the language from a BCP 47 tag, English when the hub does not speak it', () => {
    expect(['es', 'es-MX', 'ES', 'ko-KR', 'fr', undefined, 42].map(mailLanguage)).toEqual(['es', 'es', 'es', 'ko', 'en', 'en', 'en']);
    expect(preferredLanguage({ resourceType: 'Patient', communication: [{ language: { coding: [{ code: 'en' }] } }, { language: { coding: [{ code: 'ko' }] }, preferred: true }] })).toBe('ko');
  });

  it('writes a time in the clinic zone and the language format', () => {
    const zone = clinicTimeZone(clinic, 'UTC');
    expect(zone).toBe('America/Chicago');
    expect(formatWhen('2026-12-08T15:00:00Z', zone, 'en')).toMatch(/^Tuesday, December 8, 2026 at 9:00\sAM CST$/);
    expect(formatWhen('2026-12-08T15:00:00Z', zone, 'es')).toMatch(/^martes, 8 de diciembre de 2026, 9:00\sa\.\s?m\.\sCST$/);
    expect(formatWhen('2026-12-08T15:00:00Z', zone, 'ko')).toContain('2026년 12월 8일 화요일');
    // A Location without a zone, or with one the runtime does not know, uses the hub's.
    expect(clinicTimeZone({ ...clinic, extension: [] }, 'America/New_York')).toBe('America/New_York');
    expect(clinicTimeZone({ ...clinic, extension: [{ url: TIMEZONE_EXTENSION, valueCode: 'Mars/Olympus' }] }, 'UTC')).toBe('UTC');
  });

  it('names the place with its address and a map link', () => {
    expect(addressLine(clinic)).toBe('412 Main St, Springfield, IL 62701');
    expect(mapLink(clinic)).toBe('https://www.openstreetmap.org/?mlat=39.78170&mlon=-89.65010#map=17/39.78170/-89.65010');
    expect(mapLink({ ...clinic, position: undefined })).toBe('https://www.openstreetmap.org/search?query=412%20Main%20St%2C%20Springfield%2C%20IL%2062701');
    const mail = bookedMail('en', { start: '2026-12-08T15:00:00Z', timeZone: 'America/Chicago', productName: 'SPIKEVAX', location: clinic, reference: 'A-1' });
    expect(mail.text.split('\n')).toEqual([
      'Your vaccination appointment is booked.',
      '',
      expect.stringMatching(/^When: Tuesday, December 8, 2026 at 9:00\sAM CST$/),
      'Vaccine: SPIKEVAX',
      'Where: Springfield Community Vaccination Site, 412 Main St, Springfield, IL 62701',
      expect.stringMatching(/^Map: https:\/\/www\.openstreetmap\.org\//),
      'Booking reference: A-1',
      '',
      expect.stringContaining('Bring an identity document'),
    ]);
  });

  it('writes the invitation expiry as people read dates, not ISO 8601', () => {
    const mail = invitationMail('ko', { link: 'https://hub/invitation/x', expiresAt: new Date('2026-12-09T08:21:15.740Z'), timeZone: 'America/Chicago', askBirthDate: true });
    expect(mail.subject).toBe('예방접종 예약에 초대되었습니다');
    expect(mail.text).not.toContain('2026-12-09T08:21');
    expect(mail.text).toContain('2026년 12월 9일');
  });

  it('confirms a registration with the number, the group explained and what happens next', () => {
    const en = registeredMail('en', { registrationNumber: 'R-ABCD-EFGH', group: 'Phase 1c' });
    expect(en.subject).toBe('You are registered for a vaccination');
    expect(en.text).toContain('Your registration number: R-ABCD-EFGH');
    expect(en.text).toContain('Your priority group: Phase 1c');
    expect(en.text).toContain('Priority groups (phases such as 1a, 1b, 1c) are invited in order');
    expect(en.text).toContain('What happens next:');
    expect(registeredMail('ko', { registrationNumber: 'R-ABCD-EFGH', group: null }).text).toContain('아직 우선순위 그룹에 해당하지 않습니다');
  });

  it('counts minutes and places by the language rules, never "1 minutos"', () => {
    expect(invitationCodeMail('es', { code: '123456', minutes: 1 }).text).toContain('Es válido durante 1 minuto.');
    expect(invitationCodeMail('es', { code: '123456', minutes: 10 }).text).toContain('Es válido durante 10 minutos.');
    expect(invitationCodeMail('en', { code: '123456', minutes: 1 }).text).toContain('It is valid for 1 minute.');
    const shortfall = shortfallMail('es', { timeZone: 'UTC', reference: 'R', lateProductName: 'X', substitutes: [{ productName: 'SPIKEVAX', places: 1 }, { productName: 'Novavax', places: 3 }] });
    expect(shortfall.text).toContain('SPIKEVAX: 1 lugar disponible en la misma clínica');
    expect(shortfall.text).toContain('Novavax: 3 lugares disponibles en la misma clínica');
    const turn = admissionMailText('es', { link: 'https://hub/x', expiresAt: new Date('2026-12-09T08:00:00Z'), sessionMinutes: 1, timeZone: 'America/Chicago' });
    expect(turn.text).toContain('tendrá 1 minuto para terminar la reserva');
  });

  it('refuses an unknown HUB_TIME_ZONE at start', () => {
    expect(loadConfig({ HUB_TIME_ZONE: 'America/Chicago' }).timeZone).toBe('America/Chicago');
    expect(loadConfig({}).timeZone).toBe('UTC');
    expect(() => loadConfig({ HUB_TIME_ZONE: 'Chicago' })).toThrow(ConfigError);
  });
});
