import { exampleText } from '../../../test/credentials/shc-fixtures.js';
import { decodeShcQr, encodeShcNumeric, shcQrPng, shcQrSvg, shcQrVersion } from './qr.js';
import { readQrFromPng } from './qr-image.js';

describe('shc:/ numeric encoding', () => {
  it.each([0, 1, 3])('example %i numeric QR value decodes to the example JWS and back', (n) => {
    const numeric = exampleText(n, 'f-qr-code-numeric-value-0.txt').trim();
    const jws = exampleText(n, 'd-jws.txt').trim();
    expect(decodeShcQr(numeric)).toBe(jws);
    expect(encodeShcNumeric(jws)).toBe(numeric);
  });

  it('example 2: the legacy 3-chunk QR set reassembles in any order; a missing chunk is an error', () => {
    const chunks = [0, 1, 2].map((i) => exampleText(2, `f-qr-code-numeric-value-${i}.txt`).trim());
    const jws = exampleText(2, 'd-jws.txt').trim();
    expect(decodeShcQr([chunks[2], chunks[0], chunks[1]])).toBe(jws);
    expect(() => decodeShcQr([chunks[0], chunks[2]])).toThrow(/Missing QR chunk\(s\) 2 of 3/);
  });

  it('rejects odd digit counts and pairs over 77', () => {
    expect(() => decodeShcQr('shc:/123')).toThrow(/even number/);
    expect(() => decodeShcQr('shc:/7899')).toThrow(/out of range/);
    expect(() => decodeShcQr('https://x')).toThrow(/Not a shc/);
  });
});

describe('SHC QR image', () => {
  it('example 00 PNG decodes (jsQR + pngjs) back to the same shc:/ string, version <= 22', async () => {
    const jws = exampleText(0, 'd-jws.txt').trim();
    const png = await shcQrPng(jws);
    expect(readQrFromPng(png)).toBe(encodeShcNumeric(jws));
    expect(shcQrVersion(jws)).toBeLessThanOrEqual(22);
  });

  it('a 1195-character JWS fits version 22; example 02 (3285 chars) is refused with a pointer to SMART Health Links', async () => {
    const jws = exampleText(2, 'd-jws.txt').trim();
    expect(shcQrVersion(jws.slice(0, 1195))).toBe(22);
    await expect(shcQrPng(jws)).rejects.toThrow(/SMART Health Link/);
  });

  it('SVG output', async () => {
    const svg = await shcQrSvg(exampleText(1, 'd-jws.txt').trim());
    expect(svg).toMatch(/^<svg[^>]+viewBox/);
  });
});
