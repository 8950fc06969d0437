import { createPrivateKey, type JsonWebKey } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { CompactSign, base64url } from 'jose';
import { exampleJson, exampleText, issuerJson } from '../../../test/credentials/shc-fixtures.js';
import { isHealthCardError } from './errors.js';
import { decodeHealthCardJws, signHealthCard, verifyHealthCardJws } from './jws.js';
import type { HealthCardPayload, IssuerPublicJwk, Jwks } from './types.js';

const EXAMPLE_ISS = 'https://spec.smarthealth.cards/examples/issuer';
const privateJwks = issuerJson<Jwks<IssuerPublicJwk & { d: string }>>('example-issuer.jwks.private.json');
const publicKeys = privateJwks.keys.filter((k) => k.use === 'sig').map(({ d: _d, ...pub }) => pub as IssuerPublicJwk);
const findKey = (iss: string, kid: string) => (iss === EXAMPLE_ISS ? publicKeys.find((k) => k.kid === kid) : undefined);

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ACCEPTED';
  } catch (e) {
    if (isHealthCardError(e)) return e.code;
    throw e;
  }
}

async function exampleSigningKey() {
  const jwk = privateJwks.keys.find((k) => k.kid === '3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s')!;
  return { kid: jwk.kid, key: createPrivateKey({ key: { ...jwk } as JsonWebKey, format: 'jwk' }) };
}

describe('SHC JWS', () => {
  it.each([0, 1, 2, 3])('example %i verifies with the example issuer keys and inflates to the minified payload', async (n) => {
    const card = await verifyHealthCardJws(exampleText(n, 'd-jws.txt'), findKey);
    expect(card.payload).toEqual(exampleJson(n, 'c-jws-payload-minified.json'));
    expect(card.header.zip).toBe('DEF');
  });

  it.each([0, 1, 2, 3])('signing example %i payload with the example key verifies and is no longer than the example', async (n) => {
    const payload = exampleJson<HealthCardPayload>(n, 'c-jws-payload-minified.json');
    const jws = await signHealthCard(payload, await exampleSigningKey());
    const card = await verifyHealthCardJws(jws, findKey);
    expect(card.payload).toEqual(payload);
    expect(decodeHealthCardJws(jws).header).toEqual({ zip: 'DEF', alg: 'ES256', kid: '3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s' });
    // Same payload, raw DEFLATE at best compression: never bigger than the spec's own JWS.
    expect(jws.length).toBeLessThanOrEqual(exampleText(n, 'd-jws.txt').trim().length);
  });

  describe('tampering is rejected', () => {
    const jws = exampleText(0, 'd-jws.txt').trim();
    const [h, p, s] = jws.split('.');

    it('payload: one changed character', async () => {
      const bytes = base64url.decode(p);
      bytes[10] ^= 0x01;
      expect(await codeOf(verifyHealthCardJws(`${h}.${base64url.encode(bytes)}.${s}`, findKey))).toMatch(/SIGNATURE_INVALID|DEFLATE_INVALID|PAYLOAD_INVALID/);
    });

    it('payload: a re-deflated, edited payload under the original signature', async () => {
      const payload = exampleJson<HealthCardPayload>(0, 'c-jws-payload-minified.json');
      payload.vc.credentialSubject.fhirBundle.entry![1].resource = { ...payload.vc.credentialSubject.fhirBundle.entry![1].resource!, lotNumber: 'FORGED' } as never;
      const forged = (await signHealthCard(payload, await exampleSigningKey())).split('.')[1];
      expect(await codeOf(verifyHealthCardJws(`${h}.${forged}.${s}`, findKey))).toBe('SIGNATURE_INVALID');
    });

    it('signature: flipped bits, truncated, or DER-encoded length', async () => {
      const sig = base64url.decode(s);
      sig[5] ^= 0xff;
      expect(await codeOf(verifyHealthCardJws(`${h}.${p}.${base64url.encode(sig)}`, findKey))).toBe('SIGNATURE_INVALID');
      expect(await codeOf(verifyHealthCardJws(`${h}.${p}.${s.slice(0, 40)}`, findKey))).toBe('SIGNATURE_INVALID');
    });

    it('header: another kid, alg, or no zip', async () => {
      const enc = (o: object) => base64url.encode(JSON.stringify(o));
      const otherKid = enc({ zip: 'DEF', alg: 'ES256', kid: 'EBKOr72QQDcTBUuVzAzkfBTGew0ZA16GuWty64nS-sw' });
      expect(await codeOf(verifyHealthCardJws(`${otherKid}.${p}.${s}`, findKey))).toBe('SIGNATURE_INVALID');
      const unknownKid = enc({ zip: 'DEF', alg: 'ES256', kid: 'not-a-published-kid' });
      expect(await codeOf(verifyHealthCardJws(`${unknownKid}.${p}.${s}`, findKey))).toBe('KEY_NOT_FOUND');
      expect(await codeOf(verifyHealthCardJws(`${enc({ zip: 'DEF', alg: 'HS256', kid: 'x' })}.${p}.${s}`, findKey))).toBe('JWS_HEADER_INVALID');
      expect(await codeOf(verifyHealthCardJws(`${enc({ alg: 'ES256', kid: '3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s' })}.${p}.${s}`, findKey))).toBe('JWS_HEADER_INVALID');
      // Same fields, other spacing: the signature covers the exact header bytes.
      const spaced = base64url.encode('{"zip": "DEF", "alg": "ES256", "kid": "3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s"}');
      expect(await codeOf(verifyHealthCardJws(`${spaced}.${p}.${s}`, findKey))).toBe('SIGNATURE_INVALID');
    });

    it('deflate: a zlib-wrapped payload correctly signed is still rejected', async () => {
      const payload = exampleJson<HealthCardPayload>(0, 'c-jws-payload-minified.json');
      const { kid, key } = await exampleSigningKey();
      const zlibWrapped = await new CompactSign(deflateSync(JSON.stringify(payload)))
        .setProtectedHeader({ zip: 'DEF', alg: 'ES256', kid })
        .sign(key);
      expect(await codeOf(verifyHealthCardJws(zlibWrapped, findKey))).toBe('DEFLATE_INVALID');
      const uncompressed = await new CompactSign(Buffer.from(JSON.stringify(payload)))
        .setProtectedHeader({ zip: 'DEF', alg: 'ES256', kid })
        .sign(key);
      expect(await codeOf(verifyHealthCardJws(uncompressed, findKey))).toBe('DEFLATE_INVALID');
    });

    it('garbage and wrong shapes', async () => {
      expect(await codeOf(verifyHealthCardJws('not a jws', findKey))).toBe('JWS_MALFORMED');
      expect(await codeOf(verifyHealthCardJws(`${h}.${p}`, findKey))).toBe('JWS_MALFORMED');
      expect(await codeOf(verifyHealthCardJws(`${base64url.encode('nope')}.${p}.${s}`, findKey))).toBe('JWS_HEADER_INVALID');
    });

    it('a key from another issuer is not used', async () => {
      const payload = { ...exampleJson<HealthCardPayload>(0, 'c-jws-payload-minified.json'), iss: 'https://evil.example' };
      const jws2 = await signHealthCard(payload, await exampleSigningKey());
      expect(await codeOf(verifyHealthCardJws(jws2, findKey))).toBe('KEY_NOT_FOUND');
    });
  });
});
