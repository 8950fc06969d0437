/**
 * Sends one export file: gzip-compressed on the fly when the client's Accept-Encoding allows it (streamed through
 * zlib, never buffered: files run to hundreds of megabytes), and byte ranges of the uncompressed file for a client
 * resuming a broken download (206 with Content-Range, 416 for a range past the end). A range is always sent
 * uncompressed: the offsets a client resumes from are those of the NDJSON it was writing.
 * @see https://www.rfc-editor.org/rfc/rfc9110#name-range-requests
 */
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import type { Request, Response } from 'express';
import { fhirError } from '../../fhir/outcomes.js';

export interface DownloadFile {
  /** Full path on disk. */
  path: string;
  /** Size of the uncompressed file. */
  bytes: number;
  /** Stable for the life of the file (a job's files never change): lets If-Range tell a resumed download it is the same file. */
  etag: string;
  contentType: string;
}

/** Below this there is nothing worth compressing (a header and a few lines). */
const MIN_GZIP_BYTES = 1024;

export async function sendExportFile(req: Request, res: Response, file: DownloadFile): Promise<void> {
  res.set({ 'Content-Type': file.contentType, 'Cache-Control': 'no-store', 'Accept-Ranges': 'bytes', ETag: file.etag, Vary: 'Accept-Encoding' });
  const ifRange = req.get('if-range');
  // A resumed download of a different file (If-Range not matching) gets the whole file, as RFC 9110 §13.1.5 asks.
  const rangeApplies = req.get('range') !== undefined && (ifRange === undefined || ifRange === file.etag);
  const ranges = rangeApplies ? req.range(file.bytes, { combine: true }) : undefined;
  if (ranges === -1) {
    throw fhirError('RANGE_NOT_SATISFIABLE', `The range ${req.get('range')} is outside the file (${file.bytes} bytes)`, undefined, { 'Content-Range': `bytes */${file.bytes}` });
  }
  // A malformed or multi-part range is ignored: the whole file is a correct answer to either.
  if (Array.isArray(ranges) && ranges.type === 'bytes' && ranges.length === 1) {
    const { start, end } = ranges[0]!;
    res.status(206).set({ 'Content-Range': `bytes ${start}-${end}/${file.bytes}`, 'Content-Length': String(end - start + 1) });
    await pipeline(fs.createReadStream(file.path, { start, end }), res);
    return;
  }
  const gzip = file.bytes >= MIN_GZIP_BYTES && req.acceptsEncodings('gzip', 'identity') === 'gzip';
  res.status(200);
  if (!gzip) {
    res.set('Content-Length', String(file.bytes));
    await pipeline(fs.createReadStream(file.path), res);
    return;
  }
  res.set('Content-Encoding', 'gzip');
  // Level 6 (zlib's default) gives most of level 9's ratio on NDJSON at a fraction of the CPU.
  await pipeline(fs.createReadStream(file.path), zlib.createGzip({ level: 6 }), res);
}
