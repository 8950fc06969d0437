/**
 * A real SMTP server (the `smtp-server` package) on a loopback port, no TLS and no auth, keeping every message it
 * accepts. `refuse` holds SMTP reply codes to answer the next DATA commands with (4xx: try later, 5xx: refused),
 * so tests can exercise the outbox's retries. Suites shape the kept messages with `read` (raw text by default).
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface RawMail {
  to: string[];
  raw: string;
}

export interface Mailbox<M> {
  url: string;
  port: number;
  mails: M[];
  refuse: number[];
  waitFor(pred: (m: M) => boolean, ms?: number): Promise<M>;
  close(): Promise<void>;
}

export async function startMailbox(): Promise<Mailbox<RawMail>>;
export async function startMailbox<M>(read: (mail: RawMail) => M, describe?: (m: M) => string): Promise<Mailbox<M>>;
export async function startMailbox<M>(read?: (mail: RawMail) => M, describe?: (m: M) => string): Promise<Mailbox<M>> {
  const shape = read ?? ((m: RawMail) => m as M);
  const mails: M[] = [];
  const refuse: number[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const code = refuse.shift();
        if (code) return callback(Object.assign(new Error(code >= 500 ? 'mailbox unavailable' : 'try again later'), { responseCode: code }));
        mails.push(shape({ to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') }));
        return callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    mails,
    refuse,
    async waitFor(pred, ms = 15_000) {
      const until = Date.now() + ms;
      for (;;) {
        const m = mails.find(pred);
        if (m) return m;
        if (Date.now() > until) throw new Error(`no matching mail within ${ms} ms (received ${mails.length}${describe ? `: ${mails.map(describe).join('; ')}` : ''})`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
