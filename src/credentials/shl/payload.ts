/**
 * SMART Health Link payloads: `{url, key, exp?, flag?, label?, v?}` -> `shlink:/` + base64url(minified JSON),
 * optionally behind a viewer URL ending in `#`. QR codes use error correction M.
 * @see https://hl7.org/fhir/uv/smart-health-cards-and-links/links-specification.html
 */
import { randomBytes } from 'node:crypto';
import QRCode from 'qrcode';

export interface ShlPayload {
  url: string;
  key: string;
  exp?: number;
  flag?: string;
  label?: string;
  v?: number;
}

export const SHLINK_PREFIX = 'shlink:/';

/** 32 random bytes, base64url: 43 characters, 256 bits (used for the key and the manifest path segment). */
export function random256(): string {
  return randomBytes(32).toString('base64url');
}

/** Flags in alphabetical order; U never with P. */
export function normalizeFlags(flags: string): string {
  const set = [...new Set(flags.split(''))].sort();
  if (set.some((f) => !/^[A-Z]$/.test(f))) throw new TypeError(`Bad SHL flag in ${flags}`);
  if (set.includes('U') && set.includes('P')) throw new TypeError('SHL flag U cannot be combined with P');
  return set.join('');
}

export function validateShlPayload(p: ShlPayload): ShlPayload {
  if (typeof p.url !== 'string' || p.url.length > 128) throw new TypeError('SHL url is required and at most 128 characters');
  if (!/^[A-Za-z0-9_-]{43}$/.test(p.key)) throw new TypeError('SHL key must be 43 base64url characters (32 bytes)');
  if (p.label !== undefined && p.label.length > 80) throw new TypeError('SHL label is at most 80 characters');
  if (p.flag !== undefined && normalizeFlags(p.flag) !== p.flag) throw new TypeError('SHL flags must be alphabetical, U never with P');
  if (p.exp !== undefined && !Number.isInteger(p.exp)) throw new TypeError('SHL exp is epoch seconds');
  return p;
}

export function encodeShlink(payload: ShlPayload, viewerUrl?: string): string {
  validateShlPayload(payload);
  const ordered: ShlPayload = { url: payload.url, key: payload.key };
  if (payload.exp !== undefined) ordered.exp = payload.exp;
  if (payload.flag) ordered.flag = payload.flag;
  if (payload.label !== undefined) ordered.label = payload.label;
  if (payload.v !== undefined) ordered.v = payload.v;
  const link = SHLINK_PREFIX + Buffer.from(JSON.stringify(ordered)).toString('base64url');
  if (!viewerUrl) return link;
  return `${viewerUrl.endsWith('#') ? viewerUrl : `${viewerUrl}#`}${link}`;
}

export function decodeShlink(link: string): ShlPayload {
  const at = link.indexOf(SHLINK_PREFIX);
  if (at < 0) throw new TypeError('Not a SMART Health Link');
  const json = Buffer.from(link.slice(at + SHLINK_PREFIX.length), 'base64url').toString('utf8');
  return JSON.parse(json) as ShlPayload;
}

/** The link's QR code (error correction M), PNG. */
export function shlQrPng(link: string): Promise<Buffer> {
  return QRCode.toBuffer(link, { errorCorrectionLevel: 'M', type: 'png', margin: 4 });
}

export function shlQrSvg(link: string): Promise<string> {
  return QRCode.toString(link, { errorCorrectionLevel: 'M', type: 'svg' });
}
