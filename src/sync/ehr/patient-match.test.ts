import type { Patient } from 'fhir/r4';
import { matchPatient, normalizeName } from './patient-match.js';

const p = (id: string, given: string, family: string, birthDate: string, extra: Partial<Patient> = {}): Patient => ({ resourceType: 'Patient', id, name: [{ given: [given], family }], birthDate, ...extra });

describe('matchPatient', () => {
  const hub = p('h', 'José', "O'Neil", '1980-05-05', { identifier: [{ system: 'urn:mrn', value: '7' }], gender: 'male' });

  it('matches a shared identifier first, even with other demographic candidates', () => {
    expect(matchPatient(hub, [p('a', 'Jose', 'ONeil', '1980-05-05'), p('b', 'X', 'Y', '1999-01-01', { identifier: [{ system: 'urn:mrn', value: '7' }] })])).toEqual({ kind: 'match', id: 'b', by: 'identifier' });
  });

  it('matches exactly one candidate with the same normalised name and birth date', () => {
    expect(normalizeName("O'Neil")).toBe('oneil');
    expect(matchPatient(hub, [p('a', 'JOSE', 'oneil', '1980-05-05')])).toEqual({ kind: 'match', id: 'a', by: 'demographics' });
  });

  it('sends duplicates, near-duplicates and gender conflicts to review or no match, never a silent merge', () => {
    expect(matchPatient(hub, [p('a', 'Jose', 'ONeil', '1980-05-05'), p('b', 'Jose', 'ONeil', '1980-05-05')])).toMatchObject({ kind: 'review', ids: ['a', 'b'] });
    expect(matchPatient(hub, [p('a', 'Joseph', 'ONeil', '1980-05-05')])).toMatchObject({ kind: 'review', ids: ['a'] });
    expect(matchPatient(hub, [p('a', 'Jose', 'ONeil', '1980-05-05', { gender: 'female' })])).toMatchObject({ kind: 'review' });
    expect(matchPatient(hub, [p('a', 'Jose', 'ONeil', '1980-05-06')])).toEqual({ kind: 'none' });
    expect(matchPatient(hub, [])).toEqual({ kind: 'none' });
  });
});
