/**
 * Reads QR codes from PNG images: `vaxhub verify card.png` on the calling thread, `POST /verify` in a worker
 * thread with a time limit (./qr-worker.mjs), so one hostile image cannot stall the hub.
 */
import { Worker } from 'node:worker_threads';
import jsQRModule from 'jsqr';
import { PNG } from 'pngjs';
import { HealthCardError } from './errors.js';

// jsqr is CommonJS with module.exports.default = jsQR: under NodeNext the default import is module.exports.
const jsQR = jsQRModule.default;

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length > 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
}

/**
 * Largest image read, in pixels. A PNG states its size in its header and can compress a huge blank image into a
 * few KB: decoding it (4 bytes a pixel) and scanning it for a QR code would take the process's memory and time.
 * A card's QR code at a readable scale is well under a megapixel (the hub's own: 452 x 452).
 */
export const MAX_QR_IMAGE_PIXELS = 2_000_000;

/** Refuses, from the IHDR chunk alone, an image too large to read. */
function checkImageSize(bytes: Uint8Array): void {
  // IHDR is the first chunk: width and height, big-endian, at bytes 16 and 20.
  if (bytes.length < 24) throw new HealthCardError('QR_INVALID', 'Not a readable PNG image: too short');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  if (width * height > MAX_QR_IMAGE_PIXELS) {
    throw new HealthCardError('QR_INVALID', `The image is ${width} x ${height} pixels; at most ${MAX_QR_IMAGE_PIXELS / 1e6} megapixels are read (crop it to the QR code)`);
  }
}

/** The text of the QR code in a PNG image, on the calling thread (the CLI). */
export function readQrFromPng(bytes: Uint8Array): string {
  checkImageSize(bytes);
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(bytes));
  } catch (e) {
    throw new HealthCardError('QR_INVALID', `Not a readable PNG image: ${(e as Error).message}`);
  }
  let code: ReturnType<typeof jsQR>;
  try {
    code = jsQR(new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length), png.width, png.height);
  } catch (e) {
    throw new HealthCardError('QR_INVALID', `No QR code could be read from the image: ${(e as Error).message}`);
  }
  if (!code) throw new HealthCardError('QR_INVALID', 'No QR code found in the image');
  return code.data;
}

/** Thrown when as many images as allowed are being read already: the caller should retry shortly. */
export class QrReaderBusyError extends Error {
  constructor() {
    super('Other images are being read; retry in a few seconds');
    this.name = 'QrReaderBusyError';
  }
}

/** Images read at once per process; each has its own thread and CPU budget. */
const MAX_CONCURRENT_READS = 2;
let reading = 0;
const WORKER_URL = new URL('./qr-worker.mjs', import.meta.url);
/** Threads reading an image now: a stopping hub ends them (stopQrReaders) instead of waiting out their budget. */
const readers = new Set<Worker>();

/** Ends every image read in progress (each caller gets QR_INVALID); for a hub that shuts down. */
export async function stopQrReaders(): Promise<void> {
  await Promise.all([...readers].map((w) => w.terminate()));
}

/**
 * The text of the QR code in a PNG image, read in a worker thread given `timeoutMs` and a memory cap: the
 * event loop (and every other request) never waits on the image. Too slow: QR_INVALID; too many at once:
 * QrReaderBusyError.
 */
export async function readQrFromPngOffThread(bytes: Uint8Array, opts: { timeoutMs?: number } = {}): Promise<string> {
  checkImageSize(bytes);
  if (reading >= MAX_CONCURRENT_READS) throw new QrReaderBusyError();
  const timeoutMs = opts.timeoutMs ?? 5_000;
  reading++;
  const worker = new Worker(WORKER_URL, { workerData: bytes, resourceLimits: { maxOldGenerationSizeMb: 96, maxYoungGenerationSizeMb: 16 } });
  // The request waiting for it keeps the hub busy, not the thread: an unreferenced thread never holds a stopping process.
  worker.unref();
  readers.add(worker);
  try {
    const answer = await new Promise<{ text?: string; error?: string }>((resolve, reject) => {
      // The budget starts once the thread runs: starting one on a busy machine is not the image's doing.
      let timer: NodeJS.Timeout | undefined;
      worker.once('online', () => {
        timer = setTimeout(() => resolve({ error: `The image could not be read within ${timeoutMs / 1000} s (crop it to the QR code)` }), timeoutMs);
      });
      worker.once('message', (m: { text?: string; error?: string }) => {
        clearTimeout(timer);
        resolve(m);
      });
      // Ended before it answered (stopQrReaders, or it died without a word): the request still gets its answer.
      worker.once('exit', () => {
        clearTimeout(timer);
        resolve({ error: 'The image could not be read (the reader stopped); try again' });
      });
      worker.once('error', (e) => {
        clearTimeout(timer);
        // Out of memory in the thread is the image's fault; anything else is ours.
        if ((e as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY') resolve({ error: 'The image is too large to read' });
        else reject(e);
      });
    });
    if (answer.error !== undefined || answer.text === undefined) throw new HealthCardError('QR_INVALID', answer.error ?? 'No QR code found in the image');
    return answer.text;
  } finally {
    reading--;
    readers.delete(worker);
    void worker.terminate();
  }
}
