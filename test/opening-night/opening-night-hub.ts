/**
 * A real hub (test/helpers/hub.ts, real SMART access policy) with opening night wired. When src/modules.ts already
 * calls wireOpeningNight the hub is used as is; until then the same wiring is mounted in front of it, with a
 * registry that authenticates like src/auth/wiring.ts (operator bearer, else a SMART access token).
 */
import type { Config } from '../../src/config/config.js';
import { startTestHub, type Backend, type TestHub } from '../helpers/hub.js';
import { startMailbox as startRawMailbox, type Mailbox } from '../helpers/mailbox.js';

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

/** A real SMTP server collecting what the hub's outbox worker sends, each mail as recipients, subject and text. */
export function startMailbox(): Promise<Mailbox<Mail>> {
  return startRawMailbox((m) => ({ to: m.to, ...textOf(m.raw) }), (x) => `${x.to.join(',')}: ${x.subject}`);
}
