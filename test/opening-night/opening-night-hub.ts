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

/** Quoted-printable (RFC 2045) to text, its bytes read as UTF-8. */
function fromQuotedPrintable(s: string): string {
  const latin1 = s.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  return Buffer.from(latin1, 'latin1').toString('utf8');
}

/** An unfolded header's RFC 2047 encoded words (=?UTF-8?B|Q?...?=) decoded. */
function headerText(value: string): string {
  return value
    .replace(/(\?=)\s+(=\?)/g, '$1$2')
    .replace(/=\?UTF-8\?([BQ])\?([^?]*)\?=/gi, (_m, enc: string, data: string) =>
      enc.toUpperCase() === 'B' ? Buffer.from(data, 'base64').toString('utf8') : fromQuotedPrintable(data.replace(/_/g, ' ')));
}

/** Decodes the text part of a simple nodemailer message (7bit, quoted-printable or base64; UTF-8). */
export function textOf(raw: string): { subject: string; text: string } {
  const [head = '', ...rest] = raw.split(/\r?\n\r?\n/);
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  const subject = headerText(/^Subject:\s*(.+)$/im.exec(unfolded)?.[1]?.trim() ?? '');
  let body = rest.join('\n\n');
  if (/Content-Transfer-Encoding:\s*quoted-printable/i.test(head)) body = fromQuotedPrintable(body);
  else if (/Content-Transfer-Encoding:\s*base64/i.test(head)) body = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  return { subject, text: body };
}

/** A real SMTP server collecting what the hub's outbox worker sends, each mail as recipients, subject and text. */
export function startMailbox(): Promise<Mailbox<Mail>> {
  return startRawMailbox((m) => ({ to: m.to, ...textOf(m.raw) }), (x) => `${x.to.join(',')}: ${x.subject}`);
}
