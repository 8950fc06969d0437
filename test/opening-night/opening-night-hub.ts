/**
 * A real hub (test/helpers/hub.ts, real SMART access policy) with opening night wired. When src/modules.ts already
 * calls wireOpeningNight the hub is used as is; until then the same wiring is mounted in front of it, with a
 * registry that authenticates like src/auth/wiring.ts (operator bearer, else a SMART access token).
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { Config } from '../../src/config/config.js';
import { startTestHub, type Backend, type TestHub } from '../helpers/hub.js';

export async function startOpeningNightHub(backend: Backend, overrides: Partial<Config> = {}): Promise<TestHub> {
  return startTestHub(backend, { devOpenAccess: false, ...overrides });
}

export interface Mail {
  to: string[];
  subject: string;
  text: string;
}

/** Decodes the text part of a simple nodemailer message (quoted-printable or 7bit). */
function textOf(raw: string): { subject: string; text: string } {
  const [head = '', ...rest] = raw.split(/\r?\n\r?\n/);
  const subject = /^Subject:\s*(.+)$/im.exec(head)?.[1]?.trim() ?? '';
  let body = rest.join('\n\n');
  if (/Content-Transfer-Encoding:\s*quoted-printable/i.test(head)) {
    body = body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  }
  return { subject, text: body };
}

/** A real SMTP server collecting what the hub's outbox worker sends. */
export async function startMailbox(): Promise<{ url: string; mails: Mail[]; waitFor(pred: (m: Mail) => boolean, ms?: number): Promise<Mail>; close(): Promise<void> }> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address), ...textOf(Buffer.concat(chunks).toString('utf8')) });
        callback();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    async waitFor(pred, ms = 15_000) {
      const until = Date.now() + ms;
      for (;;) {
        const m = mails.find(pred);
        if (m) return m;
        if (Date.now() > until) throw new Error(`no matching mail within ${ms} ms (have: ${mails.map((x) => `${x.to.join(',')}: ${x.subject}`).join('; ')})`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
