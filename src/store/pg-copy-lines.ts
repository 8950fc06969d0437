/**
 * The text of a one-column query as lines of raw bytes, streamed by PostgreSQL's `COPY (query) TO STDOUT`: the
 * server sends rows without waiting for the client to ask for each batch (as a cursor does), and the client copies
 * bytes without decoding them into strings. A bulk export writes stored JSON this way, at close to the speed of
 * psql's own COPY. Memory is bounded: past `highWaterBytes` of unread chunks the socket is paused, so the server
 * waits on TCP instead of the hub buffering the table.
 *
 * CSV format with a quote and a delimiter that no line holds (0x01, 0x02) writes a value verbatim, unlike the text
 * format, which would double every backslash of a JSON escape. A value that does hold a quote byte, CR or LF is
 * quoted by the server, which is detected and refused (it would not be one line).
 */
import pg, { type Connection } from 'pg';

/** One chunk of whole lines, each ending with '\n'. */
export interface LineChunk {
  data: Buffer;
  lines: number;
}

export interface CopyLinesOptions {
  /** Bytes per chunk handed to the consumer (lines are never split; a longer line is a chunk of its own). */
  chunkBytes: number;
  /** Lines per chunk at most (how often the consumer hears of progress); unbounded when absent. */
  maxLines?: number;
  /** Unread bytes at which the socket is paused (resumed under half of it). */
  highWaterBytes: number;
}

const QUOTE = 0x01;

/**
 * `$n` placeholders replaced by the parameters as SQL literals (COPY takes no bind parameters). Each value is
 * turned into text exactly as pg binds it (pg.utils.prepareValue: arrays become array literals, dates timestamps)
 * and written as an untyped string literal, which PostgreSQL types from its context as it types an untyped bind
 * parameter. Placeholders inside quoted literals and identifiers are left alone.
 */
export function inlineParams(sql: string, params: unknown[]): string {
  // pg's own conversion (exported at run time, not in its types).
  const prepare = (pg as unknown as { utils: { prepareValue(v: unknown): unknown } }).utils.prepareValue;
  const literal = (i: number): string => {
    if (i < 1 || i > params.length) throw new Error(`no parameter $${i}`);
    const v = prepare(params[i - 1]);
    if (v === null || v === undefined) return 'NULL';
    if (typeof v !== 'string') throw new Error(`parameter $${i} cannot be written as a literal`);
    return pg.escapeLiteral(v);
  };
  let out = '';
  for (let i = 0; i < sql.length; ) {
    const c = sql[i]!;
    if (c === "'" || c === '"') {
      // To the closing quote; a doubled quote is an escaped one and continues the literal.
      let j = i + 1;
      for (;;) {
        j = sql.indexOf(c, j);
        if (j < 0) throw new Error('unterminated quoted text in SQL');
        if (sql[j + 1] === c) j += 2;
        else break;
      }
      out += sql.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === '$' && /\d/.test(sql[i + 1] ?? '')) {
      let j = i + 1;
      while (/\d/.test(sql[j] ?? '')) j++;
      out += literal(Number(sql.slice(i + 1, j)));
      i = j;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

/**
 * The submittable pg runs as its active query: COPY's CopyData messages (one per line) are copied into chunks that
 * wait in `queue` for the consumer. pg calls the handle* methods; the other result kinds mean the statement was
 * not a COPY TO and fail it.
 */
class CopyLines implements pg.Submittable {
  readonly queue: LineChunk[] = [];
  queuedBytes = 0;
  done = false;
  error: Error | undefined;
  /** Ended here (early exit, or a line that is not one): the connection is closed, not reusable. */
  aborted = false;
  paused = false;
  private connection: Connection | undefined;
  private buf: Buffer;
  private used = 0;
  private lines = 0;
  private wake: (() => void) | undefined;

  constructor(
    private readonly text: string,
    private readonly opts: CopyLinesOptions,
  ) {
    this.buf = Buffer.allocUnsafe(opts.chunkBytes);
  }

  submit(connection: Connection): void {
    this.connection = connection;
    (connection as unknown as { query(text: string): void }).query(this.text);
  }

  /** Resolves when there is something to read, or the COPY ended. */
  waitForData(): Promise<void> {
    if (this.queue.length || this.done || this.error) return Promise.resolve();
    return new Promise((r) => (this.wake = r));
  }

  private signal(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  take(): LineChunk | undefined {
    const c = this.queue.shift();
    if (c) this.queuedBytes -= c.data.length;
    if (this.paused && this.queuedBytes < this.opts.highWaterBytes / 2) {
      this.paused = false;
      this.socket()?.resume();
    }
    return c;
  }

  private socket(): { pause(): void; resume(): void; destroy(): void } | undefined {
    return (this.connection as unknown as { stream?: { pause(): void; resume(): void; destroy(): void } } | undefined)?.stream;
  }

  /** Ends the COPY early by closing its connection (the server gives up the statement when the socket goes). */
  abort(): void {
    this.aborted = true;
    this.socket()?.destroy();
  }

  private flush(): void {
    if (this.used === 0) return;
    this.push({ data: this.buf.subarray(0, this.used), lines: this.lines });
    this.buf = Buffer.allocUnsafe(this.opts.chunkBytes);
    this.used = 0;
    this.lines = 0;
  }

  private push(chunk: LineChunk): void {
    this.queue.push(chunk);
    this.queuedBytes += chunk.data.length;
    if (!this.paused && this.queuedBytes >= this.opts.highWaterBytes) {
      this.paused = true;
      this.socket()?.pause();
    }
    this.signal();
  }

  handleCopyData(msg: { chunk: Buffer }): void {
    const line = msg.chunk;
    if (this.error) return;
    if (line[0] === QUOTE) {
      this.fail(new Error('a value holds a line break or a 0x01 byte: it cannot be written as one line'));
      return;
    }
    // The message's bytes live in pg's read buffer, which the next socket read may overwrite: copied now.
    if (line.length > this.buf.length - this.used) this.flush();
    if (line.length > this.buf.length) {
      this.push({ data: Buffer.from(line), lines: 1 });
      return;
    }
    line.copy(this.buf, this.used);
    this.used += line.length;
    if (++this.lines === this.opts.maxLines) this.flush();
  }

  private fail(e: Error): void {
    this.error = e;
    this.abort();
    this.signal();
  }

  handleCommandComplete(): void {
    this.flush();
  }
  handleReadyForQuery(): void {
    this.done = true;
    this.signal();
  }
  handleError(err: Error): void {
    this.error ??= err;
    this.signal();
  }
  handleRowDescription(): void {
    this.error ??= new Error('not a COPY ... TO STDOUT statement');
  }
  handleDataRow(): void {}
  handlePortalSuspended(): void {}
  handleEmptyQuery(): void {
    this.error ??= new Error('empty statement');
  }
  handleCopyInResponse(connection: Connection): void {
    this.error ??= new Error('not a COPY ... TO STDOUT statement');
    (connection as unknown as { sendCopyFail(msg: string): void }).sendCopyFail('COPY FROM is not read here');
  }
}

/**
 * The lines of `query` (one text column, no line breaks in it) through `COPY (query) TO STDOUT` on `client`.
 * Leaving the loop early ends the statement by closing the connection: `settle` is told whether the client may go
 * back to the pool (false: destroy it).
 */
export async function* copyLines(
  client: pg.ClientBase,
  query: string,
  params: unknown[],
  opts: CopyLinesOptions,
  settle: (reusable: boolean) => void,
): AsyncIterable<LineChunk> {
  const copy = new CopyLines(`COPY (${inlineParams(query, params)}) TO STDOUT WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')`, opts);
  try {
    client.query(copy);
    for (;;) {
      await copy.waitForData();
      const chunk = copy.take();
      if (chunk) {
        yield chunk;
        continue;
      }
      if (copy.error) throw copy.error;
      if (copy.done) break;
    }
  } finally {
    // Left early (the consumer stopped, or threw): the statement is still running.
    if (!copy.done && !copy.error) copy.abort();
    // After the server's own error (a filter it refused) the connection is sound (pg waits for its ReadyForQuery);
    // after any other (the connection lost) or an abort it is not.
    settle(!copy.aborted && (!copy.error || copy.error instanceof pg.DatabaseError));
  }
}
