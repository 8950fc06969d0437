/**
 * JSON logs (pino). Log ids, never names, birth dates or tokens.
 *
 * A line about a request names its request id itself (`requestId`): the 'request served' line and every error
 * a request handler logs. There is deliberately no AsyncLocalStorage carrying it into deeper code: on Node 20
 * it hooks every promise the process creates, which cost a search about 11% of the hub's CPU (340 -> 302 us).
 */
import fs from 'node:fs';
import { pino, type Logger } from 'pino';

export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      base: { service: 'vaxhub' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: ['req.headers.authorization', 'token', 'password', 'code_verifier'],
    },
    stdoutLines(),
  );
}

/** How long one line waits for a reader that does not take it (a full pipe) before it is dropped. */
const STALLED_READER_MS = 2_000;

/**
 * Log lines to stdout, written at once as pino's default destination (sonic-boom, sync) writes them, but never for
 * ever. Issue 20: hubs whose stdout reader was gone (SIGTERM to the process group) closed their port and never
 * exited: at process.exit pino's exit hook flushed sonic-boom, whose flushSync retries a failed write every 100 ms
 * whatever the error (EPIPE included), for ever. Here a reader that is gone (EPIPE and the like) loses the line, and
 * one that stopped reading (EAGAIN on a full non-blocking pipe) holds the hub up to STALLED_READER_MS once; lines
 * are then dropped at once until the pipe takes one again.
 */
function stdoutLines(): { write(line: string): void } {
  const nap = new Int32Array(new SharedArrayBuffer(4));
  let stalled = false;
  return {
    write(line: string): void {
      let rest = Buffer.from(line);
      let waited = 0;
      while (rest.length) {
        try {
          rest = rest.subarray(fs.writeSync(1, rest));
          stalled = false;
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code !== 'EAGAIN' && code !== 'EBUSY') return;
          if (stalled || waited >= STALLED_READER_MS) {
            stalled = true;
            return;
          }
          Atomics.wait(nap, 0, 0, 10);
          waited += 10;
        }
      }
    },
  };
}
