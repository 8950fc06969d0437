/**
 * A lean HTTP/1.1 keep-alive client for load generators that share the machine with the server they measure.
 *
 * Why not node:http's client: on the two shared cores benchmarks run on, its agent, parser and streams cost the
 * load generator ~70-150 us of CPU per request, taken from the hub and PostgreSQL under test. This client writes
 * a prepared request and reads the status line, Content-Length or chunked body and nothing else (~20-30 us).
 * It speaks only what our servers answer: HTTP/1.1, one request at a time per connection, no redirects.
 */
import net from 'node:net';

export interface LeanResponse {
  status: number;
  body: string;
  /** The Retry-After header of a 429 or 503 (read only for those, to keep the common case cheap). */
  retryAfter?: string;
}

/** A request that got no answer within its timeout (its connection is dropped). */
export class LeanTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

interface Pending {
  resolve: (r: LeanResponse) => void;
  reject: (e: Error) => void;
}

const CRLF2 = Buffer.from('\r\n\r\n');

class Connection {
  readonly socket: net.Socket;
  private buf: Buffer = Buffer.alloc(0);
  private pending: Pending | undefined;
  broken = false;

  constructor(port: number, host: string, private readonly onIdle: (c: Connection) => void) {
    this.socket = net.connect(port, host);
    this.socket.setNoDelay(true);
    this.socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.parse();
    });
    const fail = (e: Error): void => {
      this.broken = true;
      const p = this.pending;
      this.pending = undefined;
      p?.reject(e);
    };
    this.socket.on('error', fail);
    this.socket.on('close', () => fail(new Error('connection closed')));
  }

  send(request: Buffer, p: Pending): void {
    this.pending = p;
    this.socket.write(request);
  }

  /** Gives up on the request under way (a timeout): the connection is closed, never reused. */
  abort(e: Error): void {
    this.broken = true;
    const p = this.pending;
    this.pending = undefined;
    this.socket.destroy();
    p?.reject(e);
  }

  private parse(): void {
    const head = this.buf.indexOf(CRLF2);
    if (head < 0) return;
    const headText = this.buf.toString('latin1', 0, head);
    const status = Number(headText.slice(9, 12));
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(headText);
    let body: string;
    let rest: Buffer;
    if (length) {
      const end = head + 4 + Number(length[1]);
      if (this.buf.length < end) return;
      body = this.buf.toString('utf8', head + 4, end);
      rest = this.buf.subarray(end);
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(headText)) {
      const parts: Buffer[] = [];
      let at = head + 4;
      for (;;) {
        const eol = this.buf.indexOf('\r\n', at);
        if (eol < 0) return;
        const size = parseInt(this.buf.toString('latin1', at, eol), 16);
        if (this.buf.length < eol + 2 + size + 2) return;
        if (size === 0) {
          at = eol + 4;
          break;
        }
        parts.push(this.buf.subarray(eol + 2, eol + 2 + size));
        at = eol + 2 + size + 2;
      }
      body = Buffer.concat(parts).toString('utf8');
      rest = this.buf.subarray(at);
    } else {
      body = '';
      rest = this.buf.subarray(head + 4);
    }
    this.buf = rest.length ? rest : Buffer.alloc(0);
    const p = this.pending;
    this.pending = undefined;
    this.onIdle(this);
    const retryAfter = status === 429 || status === 503 ? /\r\nretry-after:\s*([^\r]*)/i.exec(headText)?.[1] : undefined;
    p?.resolve(retryAfter === undefined ? { status, body } : { status, body, retryAfter });
  }
}

/** A request waiting for a connection, or sent on one. */
interface Job {
  request: Buffer;
  resolve: (r: LeanResponse) => void;
  reject: (e: Error) => void;
  done: boolean;
  conn?: Connection;
}

/**
 * Keep-alive connections to one server: a request takes an idle one or opens another; with `maxConnections`, a
 * request that finds all of them busy waits for one, first come first served (its timeout runs while it waits), as
 * behind a proxy's connection pool. Without a bound an open-loop generator facing a stalled server opens a
 * connection per request, overflows the server's listen backlog, and then measures TCP's SYN retries (1 s, 3 s, 7 s).
 */
export class LeanHttp {
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly waiting: Job[] = [];
  private waitingHead = 0;

  constructor(private readonly port: number, private readonly host = '127.0.0.1', private readonly maxConnections = Infinity) {}

  /** Connections open now. */
  get connections(): number {
    return this.all.size;
  }

  /** Requests waiting for a connection now. */
  get queued(): number {
    return this.waiting.length - this.waitingHead;
  }

  /** `timeoutMs`: reject with LeanTimeout (and drop the connection if sent) when no answer came by then. */
  post(path: string, body: string, headers: Record<string, string> = {}, timeoutMs?: number): Promise<LeanResponse> {
    const data = Buffer.from(body);
    let head = `POST ${path} HTTP/1.1\r\nhost: ${this.host}:${this.port}\r\ncontent-length: ${data.length}\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    const request = Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), data]);
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const job: Job = {
        request,
        done: false,
        resolve: (r) => {
          if (job.done) return;
          job.done = true;
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          if (job.done) return;
          job.done = true;
          clearTimeout(timer);
          reject(e);
        },
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => (job.conn ? job.conn.abort(new LeanTimeout(timeoutMs)) : job.reject(new LeanTimeout(timeoutMs))), timeoutMs);
      }
      this.dispatch(job);
    });
  }

  private dispatch(job: Job): void {
    let c = this.idle.pop();
    while (c?.broken) c = this.idle.pop();
    if (!c) {
      if (this.all.size >= this.maxConnections) {
        this.waiting.push(job);
        return;
      }
      c = this.open();
    }
    job.conn = c;
    c.send(job.request, { resolve: job.resolve, reject: job.reject });
  }

  private nextWaiting(): Job | undefined {
    while (this.waitingHead < this.waiting.length) {
      const job = this.waiting[this.waitingHead++]!;
      if (this.waitingHead > 4096 && this.waitingHead * 2 > this.waiting.length) {
        this.waiting.splice(0, this.waitingHead);
        this.waitingHead = 0;
      }
      if (!job.done) return job;
    }
    return undefined;
  }

  private open(): Connection {
    const c = new Connection(this.port, this.host, (done) => {
      if (done.broken) return;
      const next = this.nextWaiting();
      if (!next) return void this.idle.push(done);
      next.conn = done;
      done.send(next.request, { resolve: next.resolve, reject: next.reject });
    });
    this.all.add(c);
    c.socket.once('close', () => {
      this.all.delete(c);
      const next = this.nextWaiting();
      if (next) this.dispatch(next);
    });
    return c;
  }

  close(): void {
    for (const c of this.all) c.socket.destroy();
    this.all.clear();
    this.idle.length = 0;
  }
}
