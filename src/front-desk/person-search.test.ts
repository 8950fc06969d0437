/** What staff type in the desk's one search box, read as the parts of a person to find (issue 21). */
import { ALPHABET, checkCharacter } from '../scheduling/booking-reference.js';
import { parsePersonQuery, phoneVariants } from './person-search.js';

/** A valid reference of letters only (about one in twenty is), as the hub may give one. */
function letterOnlyReference(): string {
  const letters = [...ALPHABET].filter((c) => /[A-Z]/.test(c));
  for (let i = 0; ; i++) {
    const data = Array.from({ length: 7 }, (_, k) => letters[(i * 7 + k * 5 + i * k) % letters.length]).join('');
    const check = checkCharacter(data);
    if (/[A-Z]/.test(check)) return data + check;
  }
}

describe('parsePersonQuery', () => {
  it('reads a phone number typed in groups as one number', () => {
    expect(parsePersonQuery('+1 (413) 555-0142')).toEqual({ words: [], phoneDigits: '14135550142' });
    expect(parsePersonQuery('413 555 0142')).toEqual({ words: [], phoneDigits: '4135550142' });
    expect(parsePersonQuery('1.413.555.0142')).toEqual({ words: [], phoneDigits: '14135550142' });
    expect(parsePersonQuery('garcia 413 555-0142')).toEqual({ words: ['garcia'], phoneDigits: '4135550142' });
  });

  it('keeps a date a date, and a short run of digits no phone', () => {
    expect(parsePersonQuery('garcia 1948-02-11')).toEqual({ words: ['garcia'], birthDate: '1948-02-11' });
    expect(parsePersonQuery('1948-02-11 413 555 0142')).toEqual({ words: [], birthDate: '1948-02-11', phoneDigits: '4135550142' });
    expect(parsePersonQuery('garcia 12 34')).toEqual({ words: ['garcia'] });
  });

  it('reads emails in any case and a booking reference however it is spaced', () => {
    expect(parsePersonQuery('Mae.P@Example.ORG')).toEqual({ words: [], email: 'mae.p@example.org' });
    expect(parsePersonQuery('2345 6k70')).toEqual({ words: [], bookingReference: '23456K70' });
    expect(parsePersonQuery('garcia 2345-6K70')).toEqual({ words: ['garcia'], bookingReference: '23456K70' });
  });

  it('looks up a reference of letters only both as a reference and as words', () => {
    const ref = letterOnlyReference();
    expect(parsePersonQuery(`${ref.slice(0, 4)} ${ref.slice(4)}`.toLowerCase())).toEqual({ words: [ref.slice(0, 4).toLowerCase(), ref.slice(4).toLowerCase()], bookingReference: ref });
    expect(parsePersonQuery(`${ref.slice(0, 4)}-${ref.slice(4)}`)).toEqual({ words: [`${ref.slice(0, 4)}-${ref.slice(4)}`], bookingReference: ref });
    // A word that is no valid reference stays a word only.
    expect(parsePersonQuery('Marianne')).toEqual({ words: ['Marianne'] });
  });

  it('reads a registration number (R and 8 checked characters) however it is typed, apart from a booking reference', () => {
    const data = '7K3M9QX';
    const num = `R${data}${checkCharacter(data, 'R')}`;
    const shown = `R-${num.slice(1, 5)}-${num.slice(5)}`;
    expect(parsePersonQuery(shown)).toEqual({ words: [], registrationNumber: num });
    expect(parsePersonQuery(shown.toLowerCase().replace(/-/g, ' '))).toEqual({ words: [], registrationNumber: num });
    expect(parsePersonQuery(`garcia ${shown}`)).toEqual({ words: ['garcia'], registrationNumber: num });
    // Its last 8 characters are no booking reference, and a typo in it is no registration number.
    expect(parsePersonQuery(num.slice(1)).bookingReference).toBeUndefined();
    const typo = `R${data.replace('K', 'X')}${checkCharacter(data, 'R')}`;
    expect(parsePersonQuery(typo).registrationNumber).toBeUndefined();
  });
});

describe('phoneVariants', () => {
  it('tries a North American number with and without its country code', () => {
    expect(phoneVariants('4135550142')).toEqual(['4135550142', '14135550142']);
    expect(phoneVariants('14135550142')).toEqual(['14135550142', '4135550142']);
    expect(phoneVariants('442071234567')).toEqual(['442071234567']);
    expect(phoneVariants('5550142')).toEqual(['5550142']);
  });
});
