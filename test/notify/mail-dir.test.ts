/**
 * MAIL_DIR, the development mail catcher (issue 22, item 10): with no SMTP_URL, a hub writes its outgoing mail as
 * .eml files, so the whole public journey can be tried locally; a public (https) hub refuses it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { enqueueMail } from '../../src/notify/outbox.js';
import { backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { textOf } from '../opening-night/opening-night-hub.js';

describe('MAIL_DIR configuration', () => {
  it('is refused when BASE_URL is https, and resolved to an absolute path otherwise', () => {
    expect(() => loadConfig({ MAIL_DIR: './mail', BASE_URL: 'https://hub.example.org' })).toThrow(ConfigError);
    expect(loadConfig({ MAIL_DIR: './mail', BASE_URL: 'http://localhost:8080' }).mailDir).toBe(path.resolve('./mail'));
    expect(loadConfig({}).mailDir).toBeUndefined();
  });
});

describe.each(backends())('MAIL_DIR on %s', (backend) => {
  let t: TestHub;
  let dir: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vaxhub-maildir-'));
    t = await startTestHub(backend, { mailDir: dir, smtpUrl: undefined });
  });
  afterAll(async () => {
    await t?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes each outgoing message as an .eml file a mail program opens', async () => {
    await t.hub.db.transaction((tx) => enqueueMail(tx, { kind: 'test', to: 'ana@example.org', subject: 'Código: 123456', text: 'Hola, Ana.\nSu código es 123456.', dedupeKey: `maildir-${backend}`, mailClass: 'urgent' }));
    let files: string[] = [];
    for (let i = 0; i < 100 && files.length === 0; i++) {
      files = fs.readdirSync(dir).filter((f) => f.endsWith('.eml'));
      if (!files.length) await new Promise((r) => setTimeout(r, 100));
    }
    expect(files).toHaveLength(1);
    const file = path.join(dir, files[0]!);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const raw = fs.readFileSync(file, 'utf8');
    expect(raw).toMatch(/^To: ana@example\.org$/m);
    const mail = textOf(raw);
    expect(mail.subject).toBe('Código: 123456');
    expect(mail.text.trim()).toBe('Hola, Ana.\nSu código es 123456.');
  });
});
