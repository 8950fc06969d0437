/**
 * A real hub (test/helpers/hub.ts, real SMART access policy) with opening night wired. When src/modules.ts already
 * calls wireOpeningNight the hub is used as is; until then the same wiring is mounted in front of it, with a
 * registry that authenticates like src/auth/wiring.ts (operator bearer, else a SMART access token).
 */
import type { Config } from '../../src/config/config.js';
import { startTestHub, type Backend, type TestHub } from '../helpers/hub.js';
import { startMailbox as startRawMailbox, type Mailbox } from '../helpers/mailbox.js';
import { parseMime, partOfType } from '../helpers/mime.js';

export async function startOpeningNightHub(backend: Backend, overrides: Partial<Config> = {}): Promise<TestHub> {
  return startTestHub(backend, { devOpenAccess: false, ...overrides });
}

export interface Mail {
  to: string[];
  subject: string;
  text: string;
  /** The text/html alternative, when the mail has one. */
  html?: string;
}

/** The subject and text part of a nodemailer message: a plain one, or the text/plain part of a multipart one (and its HTML part). */
export function textOf(raw: string): { subject: string; text: string; html?: string } {
  const mail = parseMime(raw);
  const part = partOfType(mail, 'text/plain') ?? mail;
  const html = partOfType(mail, 'text/html')?.body.toString('utf8');
  return { subject: mail.headers.subject ?? '', text: part.body.toString('utf8'), ...(html ? { html } : {}) };
}

/** A real SMTP server collecting what the hub's outbox worker sends, each mail as recipients, subject and text. */
export function startMailbox(): Promise<Mailbox<Mail>> {
  return startRawMailbox((m) => ({ to: m.to, ...textOf(m.raw) }), (x) => `${x.to.join(',')}: ${x.subject}`);
}
