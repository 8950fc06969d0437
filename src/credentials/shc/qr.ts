/**
 * `shc:/` numeric encoding and QR codes for SMART Health Cards: one QR, two segments (byte `shc:/`,
 * numeric digits = each JWS character's code minus 45, two digits each), error correction L,
 * version <= 22 (a JWS of at most 1195 characters). Larger cards are not chunked (deprecated since 1.3.0):
 * share them with a SMART Health Link instead.
 * @see https://spec.smarthealth.cards/#health-cards-as-qr-codes
 */
import QRCode from 'qrcode';
import { HealthCardError } from './errors.js';

export const SHC_QR_PREFIX = 'shc:/';
/** The largest JWS that fits a version-22 QR with error correction L in the two-segment form. */
export const MAX_SINGLE_QR_JWS_LENGTH = 1195;
const MAX_QR_VERSION = 22;

/** JWS -> `shc:/5676...` */
export function encodeShcNumeric(jws: string): string {
  let digits = '';
  for (let i = 0; i < jws.length; i++) {
    const v = jws.charCodeAt(i) - 45;
    if (v < 0 || v > 77) throw new HealthCardError('JWS_MALFORMED', `Character ${JSON.stringify(jws[i])} cannot be in a JWS`);
    digits += v < 10 ? `0${v}` : String(v);
  }
  return SHC_QR_PREFIX + digits;
}

/** Decodes the digits (without prefix) back to JWS characters. */
function digitsToJws(digits: string): string {
  if (!/^\d*$/.test(digits) || digits.length % 2 !== 0) {
    throw new HealthCardError('QR_INVALID', 'shc:/ content must be an even number of digits');
  }
  let out = '';
  for (let i = 0; i < digits.length; i += 2) {
    const v = Number(digits.slice(i, i + 2));
    if (v > 77) throw new HealthCardError('QR_INVALID', `Digit pair ${digits.slice(i, i + 2)} is out of range (max 77)`);
    out += String.fromCharCode(v + 45);
  }
  return out;
}

export interface ShcQrChunk {
  index: number;
  total: number;
  digits: string;
}

/** Parses `shc:/digits` or a legacy chunk `shc:/C/N/digits`. */
export function parseShcQr(text: string): ShcQrChunk {
  const t = text.trim();
  if (!t.toLowerCase().startsWith(SHC_QR_PREFIX)) throw new HealthCardError('QR_INVALID', 'Not a shc:/ QR payload');
  const rest = t.slice(SHC_QR_PREFIX.length);
  const chunk = /^(\d+)\/(\d+)\/(\d*)$/.exec(rest);
  if (chunk) {
    const index = Number(chunk[1]);
    const total = Number(chunk[2]);
    if (index < 1 || total < 1 || index > total) throw new HealthCardError('QR_INVALID', `Bad chunk index ${index}/${total}`);
    return { index, total, digits: chunk[3] };
  }
  return { index: 1, total: 1, digits: rest };
}

/**
 * One `shc:/` string, or the chunks of a legacy multi-QR card in any order -> JWS.
 * Chunked cards are deprecated but still read, as the spec's example 02 is one.
 */
export function decodeShcQr(texts: string | string[]): string {
  const chunks = (Array.isArray(texts) ? texts : [texts]).map(parseShcQr);
  if (chunks.length === 0) throw new HealthCardError('QR_INVALID', 'No QR content');
  const total = chunks[0].total;
  if (chunks.some((c) => c.total !== total)) throw new HealthCardError('QR_INVALID', 'QR chunks disagree on the chunk count');
  const byIndex = new Map<number, string>();
  for (const c of chunks) byIndex.set(c.index, c.digits);
  const missing = Array.from({ length: total }, (_, i) => i + 1).filter((i) => !byIndex.has(i));
  if (missing.length) throw new HealthCardError('QR_INVALID', `Missing QR chunk(s) ${missing.join(', ')} of ${total}`);
  if (byIndex.size !== total || chunks.length !== total) throw new HealthCardError('QR_INVALID', 'Duplicate QR chunks');
  let digits = '';
  for (let i = 1; i <= total; i++) digits += byIndex.get(i);
  return digitsToJws(digits);
}

function segmentsFor(jws: string): QRCode.QRCodeSegment[] {
  if (jws.length > MAX_SINGLE_QR_JWS_LENGTH) {
    throw new HealthCardError(
      'TOO_LARGE_FOR_QR',
      `This card's JWS is ${jws.length} characters; one QR code holds at most ${MAX_SINGLE_QR_JWS_LENGTH}. ` +
        'QR chunking is deprecated: share this card with a SMART Health Link instead.',
    );
  }
  return [
    { data: Buffer.from(SHC_QR_PREFIX, 'ascii'), mode: 'byte' },
    { data: encodeShcNumeric(jws).slice(SHC_QR_PREFIX.length), mode: 'numeric' },
  ];
}

function qrOptions() {
  return { errorCorrectionLevel: 'L' as const, margin: 4 };
}

/** The QR version the card needs (throws when over 22). */
export function shcQrVersion(jws: string): number {
  const qr = QRCode.create(segmentsFor(jws), qrOptions());
  if (qr.version > MAX_QR_VERSION) {
    throw new HealthCardError('TOO_LARGE_FOR_QR', `Needs QR version ${qr.version} (max ${MAX_QR_VERSION}); use a SMART Health Link`);
  }
  return qr.version;
}

/** PNG bytes of the card's QR code. */
export async function shcQrPng(jws: string, opts: { scale?: number } = {}): Promise<Buffer> {
  shcQrVersion(jws);
  return QRCode.toBuffer(segmentsFor(jws), { ...qrOptions(), type: 'png', scale: opts.scale ?? 4 });
}

/** SVG text of the card's QR code. */
export async function shcQrSvg(jws: string): Promise<string> {
  shcQrVersion(jws);
  return QRCode.toString(segmentsFor(jws), { ...qrOptions(), type: 'svg' });
}
