import { exampleJson } from '../../../test/credentials/shc-fixtures.js';
import { computeRid, isRevokedBy, isValidRid, parseCrl, parseRidEntry } from './revocation.js';
import type { HealthCardPayload } from './types.js';

/**
 * The example issuer's live CRL for key 3Kfdg... (https://spec.smarthealth.cards/examples/issuer/.well-known/crl/
 * 3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s.json, as published after the examples were generated with
 * nbf 1687450764.65x). The fixtures hold no CRL, so it is reproduced here.
 */
const EXAMPLE_CRL = {
  kid: '3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s',
  method: 'rid',
  ctr: 1,
  rids: ['vwAjHdarZuc.1687450765', 'FKDIxsTCGlU', 'XkNHp2Iyk0Y.1687450765', 'TqB_qu_6OtM'],
};

describe('revocation identifiers and lists', () => {
  it('rid is 11 base64url characters (64 bits), stable per key and patient, different across keys', () => {
    const secret = Buffer.alloc(32, 7);
    const a = computeRid(secret, 'kid-a', 'Patient/1');
    expect(a).toMatch(/^[A-Za-z0-9_-]{11}$/);
    expect(isValidRid(a)).toBe(true);
    expect(computeRid(secret, 'kid-a', 'Patient/1')).toBe(a);
    expect(computeRid(secret, 'kid-b', 'Patient/1')).not.toBe(a);
    expect(computeRid(secret, 'kid-a', 'Patient/2')).not.toBe(a);
    expect(isValidRid('a'.repeat(25))).toBe(false);
  });

  it('timestamp suffixes: a card issued before the cut-off is revoked, one after it is not', () => {
    expect(parseRidEntry('lHKzqFUMjhs.1636977600')).toEqual({ rid: 'lHKzqFUMjhs', timestamp: 1636977600 });
    const crl = { rids: ['AQPCj4wwk6Mt', 'lHKzqFUMjhs.1636977600'] };
    expect(isRevokedBy(crl, 'AQPCj4wwk6Mt', 2e9)).toBe(true);
    expect(isRevokedBy(crl, 'lHKzqFUMjhs', 1636977599)).toBe(true);
    expect(isRevokedBy(crl, 'lHKzqFUMjhs', 1636977600)).toBe(false);
    expect(isRevokedBy(crl, 'other', 1)).toBe(false);
  });

  it('the example CRL revokes example 03 and not example 00', () => {
    const crl = parseCrl(EXAMPLE_CRL);
    const ex3 = exampleJson<HealthCardPayload>(3, 'c-jws-payload-minified.json');
    const ex0 = exampleJson<HealthCardPayload>(0, 'c-jws-payload-minified.json');
    expect(isRevokedBy(crl, ex3.vc.rid!, ex3.nbf)).toBe(true);
    expect(isRevokedBy(crl, ex0.vc.rid!, ex0.nbf)).toBe(false);
  });

  it('parseCrl accepts a string ctr and refuses other methods', () => {
    expect(parseCrl({ ...EXAMPLE_CRL, ctr: '3' }).ctr).toBe(3);
    expect(() => parseCrl({ ...EXAMPLE_CRL, method: 'other' })).toThrow(/method/);
  });
});
