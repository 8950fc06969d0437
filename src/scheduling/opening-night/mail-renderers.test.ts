import { admissionMailText } from './mail-renderers.js';

describe('the admission mail', () => {
  const facts = { link: 'https://hub.example.org/signup/waiting?lang=en', expiresAt: new Date('2027-03-02T18:30:00Z'), sessionMinutes: 15 };
  it('links back to the sign-up page and states how long the turn is kept and how long booking may take', () => {
    const m = admissionMailText('en', facts);
    expect(m.subject).toBe('It is your turn to book your vaccination');
    expect(m.text).toContain(facts.link);
    expect(m.text).toMatch(/until your invitation expires \(Tuesday, March 2, 2027 at 6:30\sPM UTC\)/);
    // In the hub's zone when it has one (HUB_TIME_ZONE), as every public mail writes times.
    expect(admissionMailText('en', { ...facts, timeZone: 'America/Chicago' }).text).toMatch(/\(Tuesday, March 2, 2027 at 12:30\sPM CST\)/);
    expect(m.text).toContain('you have 15 minutes to finish booking');
    expect(m.text).not.toMatch(/\{\w+\}/);
  });
  it('is written in Spanish or Korean when the person waited in it, else in English', () => {
    const es = admissionMailText('es', { ...facts, link: 'L' });
    expect(es.subject).toBe('Es su turno para reservar su vacuna');
    expect(es.text).toContain('tendrá 15 minutos');
    expect(es.text).toContain('martes, 2 de marzo de 2027');
    const ko = admissionMailText('ko', { ...facts, link: 'L' });
    expect(ko.subject).toBe('예방접종 예약 차례가 되었습니다');
    expect(ko.text).toContain('15분 안에');
    for (const other of ['fr', null, undefined, 42]) expect(admissionMailText(other, facts).subject).toBe('It is your turn to book your vaccination');
  });
});
