import { decodeJwt, decodeProtectedHeader, generateKeyPair, type CryptoKey } from 'jose';
import { TokenSource, ASSERTION_TYPE } from './token-source.js';

describe('TokenSource (outbound Backend Services)', () => {
  it('signs iss = sub = client_id, aud = token URL, exp <= 5 min, a fresh jti, and caches the token until shortly before expiry', async () => {
    const { privateKey } = await generateKeyPair('ES384');
    let now = 1_700_000_000_000;
    const forms: URLSearchParams[] = [];
    const fakeFetch = (async (_url: string, init: { body: URLSearchParams }) => {
      forms.push(init.body);
      return new Response(JSON.stringify({ access_token: `tok-${forms.length}`, token_type: 'Bearer', expires_in: 300 }), { status: 200 });
    }) as unknown as typeof fetch;
    const source = new TokenSource({
      tokenUrl: 'https://ehr.example/oauth2/token',
      clientId: 'vaxhub',
      scope: 'system/Immunization.rs',
      key: async () => ({ kid: 'k1', alg: 'ES384', privateKey: privateKey as CryptoKey }),
      now: () => now,
      fetch: fakeFetch,
    });
    expect(await source.token()).toBe('tok-1');
    now += 200_000;
    expect(await source.token()).toBe('tok-1');
    now += 80_000; // 20 s left: inside the early-refresh margin
    expect(await source.token()).toBe('tok-2');
    expect(forms).toHaveLength(2);
    const [a, b] = forms.map((f) => f.get('client_assertion')!);
    expect(forms[0]!.get('client_assertion_type')).toBe(ASSERTION_TYPE);
    expect(forms[0]!.get('grant_type')).toBe('client_credentials');
    expect(decodeProtectedHeader(a!)).toMatchObject({ alg: 'ES384', kid: 'k1', typ: 'JWT' });
    const claims = decodeJwt(a!);
    expect(claims).toMatchObject({ iss: 'vaxhub', sub: 'vaxhub', aud: 'https://ehr.example/oauth2/token' });
    expect(claims.exp! - Math.floor(1_700_000_000_000 / 1000)).toBeLessThanOrEqual(300);
    expect(decodeJwt(b!).jti).not.toBe(claims.jti);
  });

  it('reports the EHR token error', async () => {
    const { privateKey } = await generateKeyPair('RS384');
    const source = new TokenSource({
      tokenUrl: 'https://ehr.example/token',
      clientId: 'vaxhub',
      scope: 'system/Patient.rs',
      key: async () => ({ kid: 'r1', alg: 'RS384', privateKey: privateKey as CryptoKey }),
      fetch: (async () => new Response(JSON.stringify({ error: 'invalid_client', error_description: 'unknown kid' }), { status: 400 })) as unknown as typeof fetch,
    });
    await expect(source.token()).rejects.toThrow(/invalid_client unknown kid/);
  });
});
