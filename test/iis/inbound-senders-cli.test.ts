/**
 * `vaxhub iis senders add/list/disable` on PGlite and PostgreSQL: a sender registered by the CLI is stored with its
 * password hashed, authenticates over SOAP and MLLP as registered, is listed without any password, and is refused
 * once disabled. Bad registrations fail with what to fix.
 */
import { Command } from 'commander';
import type { Db } from '../../src/store/db.js';
import { registerIisSenderCommands } from '../../src/sync/iis-inbound/cli.js';
import { authenticateMllp, authenticateSoap } from '../../src/sync/iis-inbound/senders.js';
import { migratedTestDatabases } from '../helpers/hub.js';

describe.each(migratedTestDatabases())('iis senders CLI on $name', (tdb) => {
  let db: Db;
  beforeAll(async () => {
    db = await tdb.open();
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  async function run(...args: string[]): Promise<string> {
    const program = new Command().exitOverride();
    registerIisSenderCommands(program.command('iis'), async () => ({ db, close: async () => undefined }));
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => {
      out.push(String(chunk));
      return true;
    }) as typeof process.stdout.write;
    try {
      await program.parseAsync(['node', 'vaxhub', 'iis', 'senders', ...args]);
    } finally {
      process.stdout.write = write;
    }
    return out.join('');
  }

  it('add, list, authenticate, disable', async () => {
    const added = JSON.parse(
      await run('add', 'st-mary', '--name', 'St Mary EHR', '--facility', 'STM', '--soap-username', 'stmary', '--soap-password', 'a long enough secret', '--soap-facility-id', 'STM-01', '--mllp-source', '10.0.0.7,::ffff:127.0.0.1'),
    ) as Record<string, unknown>;
    expect(added).toEqual({ id: 'st-mary', name: 'St Mary EHR', facilities: ['STM'], soapUsername: 'stmary', soapFacilityId: 'STM-01', mllpSources: ['10.0.0.7', '127.0.0.1'], enabled: true });
    const stored = await db.query<{ soap_password_hash: string }>(`SELECT soap_password_hash FROM iis_sender WHERE id = 'st-mary'`);
    expect(stored.rows[0]!.soap_password_hash).toMatch(/^scrypt\$/);
    expect(stored.rows[0]!.soap_password_hash).not.toContain('a long enough secret');
    expect((await authenticateSoap(db, 'stmary', 'a long enough secret', 'STM-01'))?.id).toBe('st-mary');
    expect(await authenticateSoap(db, 'stmary', 'a long enough secreT', 'STM-01')).toBeUndefined();
    expect(await authenticateSoap(db, 'stmary', 'a long enough secret', 'OTHER')).toBeUndefined();
    expect((await authenticateMllp(db, '::ffff:127.0.0.1', 'STM'))?.id).toBe('st-mary');
    expect(await authenticateMllp(db, '127.0.0.1', 'OTHER')).toBeUndefined();
    expect(await authenticateMllp(db, '10.0.0.8', 'STM')).toBeUndefined();
    // Changing the name keeps the password.
    await run('add', 'st-mary', '--name', 'St Mary Hospital EHR', '--facility', 'STM', '--soap-username', 'stmary', '--soap-facility-id', 'STM-01', '--mllp-source', '10.0.0.7');
    expect((await authenticateSoap(db, 'stmary', 'a long enough secret', 'STM-01'))?.name).toBe('St Mary Hospital EHR');
    const listed = await run('list');
    expect(JSON.parse(listed)).toEqual([expect.objectContaining({ id: 'st-mary', name: 'St Mary Hospital EHR' })]);
    expect(listed).not.toMatch(/secret|scrypt/);
    // Nothing received yet; the listing filters by sender and state.
    expect(JSON.parse(await run('messages', '--sender', 'st-mary', '--state', 'refused'))).toEqual([]);
    await expect(run('messages', '--state', 'lost')).rejects.toThrow(/processed, held or refused/);
    expect(await run('disable', 'st-mary')).toContain('disabled');
    expect(await authenticateSoap(db, 'stmary', 'a long enough secret', 'STM-01')).toBeUndefined();
    expect(await authenticateMllp(db, '10.0.0.7', 'STM')).toBeUndefined();
  });

  it('refuses registrations that could not authenticate anyone, or too short a password', async () => {
    await expect(run('add', 'x1', '--name', 'X')).rejects.toThrow(/SOAP credentials, MLLP source addresses/);
    await expect(run('add', 'x2', '--name', 'X', '--mllp-source', '10.0.0.9')).rejects.toThrow(/sending facility/);
    await expect(run('add', 'x3', '--name', 'X', '--soap-username', 'x3', '--soap-password', 'short')).rejects.toThrow(/12 characters/);
    await expect(run('add', 'Bad Id', '--name', 'X', '--mllp-source', '10.0.0.9', '--facility', 'F')).rejects.toThrow(/lower-case/);
  });
});
