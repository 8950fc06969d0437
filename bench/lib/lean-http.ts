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

/** Up to `max` keep-alive connections to one server; a request takes an idle one or opens another. */
export class LeanHttp {
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();

  constructor(private readonly port: number, private readonly host = '127.0.0.1') {}

  /** Connections open now (an open-loop generator opens one for each request that finds none idle). */
  get connections(): number {
    return this.all.size;
  }

  /** `timeoutMs`: reject with LeanTimeout (and drop the connection) when no answer came by then. */
  post(path: string, body: string, headers: Record<string, string> = {}, timeoutMs?: number): Promise<LeanResponse> {
    const data = Buffer.from(body);
    let head = `POST ${path} HTTP/1.1\r\nhost: ${this.host}:${this.port}\r\ncontent-length: ${data.length}\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    const request = Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), data]);
    return new Promise((resolve, reject) => {
      let c = this.idle.pop();
      while (c?.broken) c = this.idle.pop();
      if (!c) {
        c = new Connection(this.port, this.host, (done) => {
          if (!done.broken) this.idle.push(done);
        });
        const made = c;
        this.all.add(made);
        made.socket.once('close', () => this.all.delete(made));
      }
      if (timeoutMs === undefined) return c.send(request, { resolve, reject });
      const conn = c;
      const timer = setTimeout(() => conn.abort(new LeanTimeout(timeoutMs)), timeoutMs);
      conn.send(request, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  close(): void {
    for (const c of this.all) c.socket.destroy();
    this.all.clear();
    this.idle.length = 0;
  }
}
