/**
 * Development mail catcher (issue 22: without SMTP_URL only the demo accounts' codes could be seen, in the log, so
 * nobody could try the whole public journey locally). With MAIL_DIR set and no SMTP_URL, the outbox writes each
 * message as an RFC 5322 .eml file there (open it with any mail program, or read it as text). It holds sign-in codes
 * and invitation links, so it is for development only: the hub refuses MAIL_DIR when BASE_URL is https.
 */
import fs from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { MailTransport } from './worker.js';

export function createMailDirTransport(dir: string): MailTransport {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const render = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    async sendMail(mail) {
      const { message } = (await render.sendMail(mail)) as unknown as { message: Buffer };
      // Sortable by time, and unique: the outbox's Message-ID.
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${mail.messageId.replace(/[^A-Za-z0-9@.-]/g, '')}.eml`;
      // Written aside and renamed, so a reader never sees half a message.
      const partial = path.join(dir, `.${name}.partial`);
      await fs.promises.writeFile(partial, message, { mode: 0o600 });
      await fs.promises.rename(partial, path.join(dir, name));
    },
  };
}
