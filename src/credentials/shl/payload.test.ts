import { decryptShlFile, encryptShlFile } from './jwe.js';
import { decodeShlink, encodeShlink, normalizeFlags, random256 } from './payload.js';
import { decodeProtectedHeader } from 'jose';

describe('SMART Health Link payload', () => {
  it("encodes the spec's example exactly", () => {
    const link = encodeShlink({
      url: 'https://ehr.example.org/qr/Y9xwkUdtmN9wwoJoN3ffJIhX2UGvCL1JnlPVNL3kDWM/m',
      flag: 'LP',
      key: 'rxTgYlOaKJPFtcEd0qcceN8wEU4p94SqAwIWQe6uX7Q',
      label: 'Back-to-school immunizations for Oliver Brown',
    });
    // The spec's example orders url, flag, key, label; our order is url, key, exp, flag, label: same content.
    expect(decodeShlink(link)).toEqual(
      decodeShlink('shlink:/eyJ1cmwiOiJodHRwczovL2Voci5leGFtcGxlLm9yZy9xci9ZOXh3a1VkdG1OOXd3b0pvTjNmZkpJaFgyVUd2Q0wxSm5sUFZOTDNrRFdNL20iLCJmbGFnIjoiTFAiLCJrZXkiOiJyeFRnWWxPYUtKUEZ0Y0VkMHFjY2VOOHdFVTRwOTRTcUF3SVdRZTZ1WDdRIiwibGFiZWwiOiJCYWNrLXRvLXNjaG9vbCBpbW11bml6YXRpb25zIGZvciBPbGl2ZXIgQnJvd24ifQ'),
    );
    expect(link).toMatch(/^shlink:\/[A-Za-z0-9_-]+$/);
    expect(encodeShlink({ url: 'https://x/y', key: random256() }, 'https://viewer.example.org')).toMatch(/^https:\/\/viewer\.example\.org#shlink:\//);
  });

  it('enforces key length, label and url limits, alphabetical flags and no U with P', () => {
    expect(random256()).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(normalizeFlags('PL')).toBe('LP');
    expect(() => normalizeFlags('PU')).toThrow(/U cannot be combined with P/);
    expect(() => encodeShlink({ url: 'https://x', key: 'short' })).toThrow(/43/);
    expect(() => encodeShlink({ url: 'https://x', key: random256(), label: 'x'.repeat(81) })).toThrow(/80/);
    expect(() => encodeShlink({ url: `https://x/${'a'.repeat(130)}`, key: random256() })).toThrow(/128/);
    expect(() => encodeShlink({ url: 'https://x', key: random256(), flag: 'PL' })).toThrow(/alphabetical/);
  });

  it('JWE is dir/A256GCM with cty, a fresh IV each time, and decrypts', async () => {
    const key = random256();
    const a = await encryptShlFile('{"verifiableCredential":["x"]}', key, 'application/smart-health-card');
    const b = await encryptShlFile('{"verifiableCredential":["x"]}', key, 'application/smart-health-card');
    expect(decodeProtectedHeader(a)).toEqual({ alg: 'dir', enc: 'A256GCM', cty: 'application/smart-health-card' });
    expect(a.split('.')[2]).not.toBe(b.split('.')[2]);
    expect(await decryptShlFile(a, key)).toEqual({ contentType: 'application/smart-health-card', content: '{"verifiableCredential":["x"]}' });
    await expect(decryptShlFile(a, random256())).rejects.toThrow();
  });
});
