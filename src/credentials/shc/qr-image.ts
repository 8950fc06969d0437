/** Reads QR codes from PNG images (for `vaxhub verify card.png` and `POST /verify`). */
import jsQRModule from 'jsqr';
import { PNG } from 'pngjs';
import { HealthCardError } from './errors.js';

// jsqr is CommonJS with module.exports.default = jsQR: under NodeNext the default import is module.exports.
const jsQR = jsQRModule.default;

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length > 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
}

/** The text of the QR code in a PNG image. */
export function readQrFromPng(bytes: Uint8Array): string {
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(bytes));
  } catch (e) {
    throw new HealthCardError('QR_INVALID', `Not a readable PNG image: ${(e as Error).message}`);
  }
  const code = jsQR(new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length), png.width, png.height);
  if (!code) throw new HealthCardError('QR_INVALID', 'No QR code found in the image');
  return code.data;
}
