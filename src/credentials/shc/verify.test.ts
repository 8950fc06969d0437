import { base64url } from 'jose';
import { exampleText, issuerJson } from '../../../test/credentials/shc-fixtures.js';
import { directoryTrustProvider } from './trust.js';
import { verifyHealthCards } from './verify.js';
import { shcQrPng } from './qr.js';
import type { IssuerPublicJwk, Jwks } from './types.js';

const EXAMPLE_ISS = 'https://spec.smarthealth.cards/examples/issuer';
const KID0 = '3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s';
/** Before example 03's exp (2024-06-21) and after every nbf: the examples' own validity window. */
const FROZEN = new Date('2024-01-01T00:00:00Z');

function exampleDirectory() {
  const priv = issuerJson<Jwks<IssuerPublicJwk & { d?: string }>>('example-issuer.jwks.private.json');
  const keys = priv.keys
    .filter((k) => k.use === 'sig')
    .map(({ d: _d, ...k }) => (k.kid === KID0 ? { ...k, crlVersion: 1 } : k) as IssuerPublicJwk);
  // The VCI daily-snapshot shape: issuer, its keys and CRLs.
  return {
    directory: 'test',
    issuerInfo: [{ issuer: { iss: EXAMPLE_ISS, name: 'SMART Health Card Example Issuer' }, keys, crls: [issuerJson(`crl-${KID0}.json`)] }],
  };
}

const trust = [directoryTrustProvider(exampleDirectory(), { name: 'examples' })];
const opts = { trust, now: FROZEN };

describe('verifier on the specification examples', () => {
  it.each([0, 1])('example %i file, JWS and shc:/ text verify with the same summary', async (n) => {
    const fromFile = await verifyHealthCards(exampleText(n, 'e-file.smart-health-card'), opts);
    const fromJws = await verifyHealthCards(exampleText(n, 'd-jws.txt'), opts);
    const fromQr = await verifyHealthCards(exampleText(n, 'f-qr-code-numeric-value-0.txt'), opts);
    expect(fromFile).toHaveLength(1);
    const [s] = fromFile;
    expect(s.reasons).toEqual([]);
    expect(s.valid).toBe(true);
    expect(fromJws[0]).toEqual(s);
    expect(fromQr[0]).toEqual(s);
    expect(s.issuer).toMatchObject({ iss: EXAMPLE_ISS, name: 'SMART Health Card Example Issuer', trustedBy: 'directory:examples' });
    expect(s.patient).toEqual({ name: 'John B. Anyperson', birthDate: '1951-01-20' });
    expect(s.doses[0]).toEqual({ cvx: '207', date: '2021-01-01', lot: '0000001', performer: 'ABC General Hospital' });
    expect(s.doses).toHaveLength(3);
  });

  it('example 00 is checked against the CRL and not revoked', async () => {
    const [s] = await verifyHealthCards(exampleText(0, 'd-jws.txt'), opts);
    expect(s.revocation).toBe('not-revoked');
  });

  it("example 01: its x5c chain expired in 2022, which is only a warning; its key publishes no CRL", async () => {
    const [s] = await verifyHealthCards(exampleText(1, 'd-jws.txt'), { ...opts, now: new Date('2026-01-01T00:00:00Z') });
    expect(s.valid).toBe(true);
    expect(s.revocation).toBe('not-published');
    expect(s.warnings.join('\n')).toMatch(/x5c chain has \d expired certificate/);
  });

  it('example 02 (legacy 3-chunk QR set, a lab bundle without Patient) verifies', async () => {
    const chunks = [0, 1, 2].map((i) => exampleText(2, `f-qr-code-numeric-value-${i}.txt`).trim());
    const [s] = await verifyHealthCards(chunks, opts);
    expect(s.reasons).toEqual([]);
    expect(s.valid).toBe(true);
    expect(s.patient).toBeNull();
    const [again] = await verifyHealthCards(chunks.join('\n'), opts);
    expect(again.valid).toBe(true);
  });

  it('example 03 is rejected as REVOKED (rid on the CRL with a cut-off after its nbf)', async () => {
    const [s] = await verifyHealthCards(exampleText(3, 'e-file.smart-health-card'), opts);
    expect(s.valid).toBe(false);
    expect(s.codes).toEqual(['REVOKED']);
    expect(s.revocation).toBe('revoked');
    // Today it is also past its exp: both reasons are reported.
    const [late] = await verifyHealthCards(exampleText(3, 'd-jws.txt'), { trust });
    expect(late.codes.sort()).toEqual(['EXPIRED', 'REVOKED']);
  });

  it('a QR PNG of example 00 verifies', async () => {
    const png = await shcQrPng(exampleText(0, 'd-jws.txt').trim());
    const [s] = await verifyHealthCards(png, opts);
    expect(s.valid).toBe(true);
  });

  it('tampered cards, unknown issuers, bad input and an early clock are rejected with reasons', async () => {
    const jws = exampleText(0, 'd-jws.txt').trim();
    const [h, p, sig] = jws.split('.');
    const bytes = base64url.decode(sig);
    bytes[0] ^= 1;
    const [tampered] = await verifyHealthCards(`${h}.${p}.${base64url.encode(bytes)}`, opts);
    expect(tampered.codes).toEqual(['SIGNATURE_INVALID']);
    const [untrusted] = await verifyHealthCards(jws, { trust: [], now: FROZEN });
    expect(untrusted.codes).toEqual(['ISSUER_UNTRUSTED']);
    const [early] = await verifyHealthCards(jws, { trust, now: new Date('2020-01-01T00:00:00Z') });
    expect(early.codes).toEqual(['NOT_YET_VALID']);
    const [garbage] = await verifyHealthCards('{"verifiableCredential": 3}', opts);
    expect(garbage.codes).toEqual(['FILE_INVALID']);
    const [notPng] = await verifyHealthCards(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0, 0, 1]), opts);
    expect(notPng.codes).toEqual(['QR_INVALID']);
  });
});
