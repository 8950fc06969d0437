// Reads the QR code of one PNG image in a worker thread (see readQrFromPngOffThread in ./qr-image.ts): decoding a
// large image and scanning it can take seconds of CPU (a noisy 2000 x 2000 image took 41 s in jsQR), which on the
// main thread would stall every other request. Plain JavaScript so the thread needs no TypeScript loader.
import { Buffer } from 'node:buffer';
import { parentPort, workerData } from 'node:worker_threads';
import jsQRModule from 'jsqr';
import { PNG } from 'pngjs';

const jsQR = jsQRModule.default ?? jsQRModule;
let png;
try {
  png = PNG.sync.read(Buffer.from(workerData));
} catch (e) {
  parentPort.postMessage({ error: `Not a readable PNG image: ${e instanceof Error ? e.message : String(e)}` });
}
if (png) {
  try {
    const code = jsQR(new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length), png.width, png.height);
    parentPort.postMessage(code ? { text: code.data } : { error: 'No QR code found in the image' });
  } catch (e) {
    // jsQR can throw on some images instead of returning null.
    parentPort.postMessage({ error: `No QR code could be read from the image: ${e instanceof Error ? e.message : String(e)}` });
  }
}
