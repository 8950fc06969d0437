import { calculateJwkThumbprint, importJWK } from 'jose';
import type { Db } from '../../src/store/db.js';
import { IssuerKeyStore } from '../../src/credentials/shc/keys.js';
import { signHealthCard, verifyHealthCardJws } from '../../src/credentials/shc/jws.js';
import { exampleJson } from './shc-fixtures.js';
import type { HealthCardPayload } from '../../src/credentials/shc/types.js';
import { testDatabases } from './databases.js';

describe.each(testDatabases)('issuer keys ($name)', ({ open }) => {
  let db: Db;
  beforeAll(async () => {
    db = await open();
  });
  afterAll(async () => {
    await db.close();
  });

  it('generates one ES256 key on first use, even when several callers race', async () => {
    const stores = Array.from({ length: 5 }, () => new IssuerKeyStore(db));
    const keys = await Promise.all(stores.map((s) => s.activeKey()));
    expect(new Set(keys.map((k) => k.kid)).size).toBe(1);
    const jwks = await stores[0].publicJwks();
    expect(jwks.keys).toHaveLength(1);
    const [jwk] = jwks.keys;
    expect(Object.keys(jwk).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    expect(jwk).toMatchObject({ kty: 'EC', crv: 'P-256', use: 'sig', alg: 'ES256' });
    expect(jwk).not.toHaveProperty('d');
    expect(jwk.kid).toBe(await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }));
    expect(jwk.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    await expect(importJWK(jwk, 'ES256')).resolves.toBeDefined();
  });

  it('rotation: new cards use the new key, old cards keep verifying, withdrawal is immediate', async () => {
    const store = new IssuerKeyStore(db);
    const payload = exampleJson<HealthCardPayload>(0, 'c-jws-payload-minified.json');
    const old = await store.activeKey();
    const oldCard = await signHealthCard(payload, old);

    const { activeKid, retiredKid } = await store.rotate();
    expect(retiredKid).toBe(old.kid);
    expect(activeKid).not.toBe(old.kid);
    const fresh = await store.activeKey();
    expect(fresh.kid).toBe(activeKid);
    const newCard = await signHealthCard(payload, fresh);

    const findKey = (_iss: string, kid: string) => store.findPublicKey(kid);
    expect((await store.publicJwks()).keys.map((k) => k.kid)).toEqual([old.kid, activeKid]);
    await expect(verifyHealthCardJws(oldCard, findKey)).resolves.toBeDefined();
    await expect(verifyHealthCardJws(newCard, findKey)).resolves.toBeDefined();

    expect(await store.withdraw(old.kid)).toBe(true);
    expect((await store.publicJwks()).keys.map((k) => k.kid)).toEqual([activeKid]);
    await expect(verifyHealthCardJws(oldCard, findKey)).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });

    // Withdrawing the active key: the next card gets a brand-new key.
    await store.withdraw(activeKid);
    const replacement = await store.activeKey();
    expect([old.kid, activeKid]).not.toContain(replacement.kid);
  });

  it('x5c is accepted only for the key it certifies', async () => {
    const store = new IssuerKeyStore(db);
    const { kid } = await store.activeKey();
    // The spec's example issuer leaf certificate holds a different key.
    const exampleLeaf =
      'MIICDDCCAZGgAwIBAgIUVJEUcO5ckx9MA7ZPjlsXYGv+98wwCgYIKoZIzj0EAwMwJzElMCMGA1UEAwwcU01BUlQgSGVhbHRoIENhcmQgRXhhbXBsZSBDQTAeFw0yMTA2MDExNTUwMDlaFw0yMjA2MDExNTUwMDlaMCsxKTAnBgNVBAMMIFNNQVJUIEhlYWx0aCBDYXJkIEV4YW1wbGUgSXNzdWVyMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEPQHApUWm94mflvswQgAnfHlETMwJFqjUVSs7WU6LQy7uaPwg77xXlVmMNtFWwkg0L9GrlqLkIOEVfXxx5GwtZKOBljCBkzAJBgNVHRMEAjAAMAsGA1UdDwQEAwIHgDA5BgNVHREEMjAwhi5odHRwczovL3NwZWMuc21hcnRoZWFsdGguY2FyZHMvZXhhbXBsZXMvaXNzdWVyMB0GA1UdDgQWBBTGqQP/SGBzOjWWcDdk/U7bQFhu+DAfBgNVHSMEGDAWgBQ4uufUcLGAmR55HWQWi+6PN9HJcTAKBggqhkjOPQQDAwNpADBmAjEAlZ9TR2TJnhumSUmtmgsWPpcp3xDYUtcXtxHs2xuHU6HqoaBfWDdUJKO8tWljGSVWAjEApesQltBP8ddWIn1BgBpldJ1pq9zukqfwRjwoCH1SRQXyuhGNfovvQMl/lw8MLIyO';
    await expect(store.setX5c(kid, [exampleLeaf])).rejects.toThrow(/does not hold this key/);
  });
});
