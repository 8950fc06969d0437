/**
 * Issue 20: an invitation holder's `$book` whose answer was lost because the hub died (kill -9) between the commit
 * and the answer: the retry with the same Idempotency-Key, to the restarted hub, gets the booking that was made
 * (not INVITATION_USED, not a second booking), and a second retry the same answer. The hub is its own process
 * (bin/vaxhub.js serve) on a PGlite data directory or a PostgreSQL schema; a test hook holds the answer back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ADMIN, backends, openTestDb, type TestDb } from '../helpers/hub.js';
import { spawnHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { startMailbox } from '../opening-night/opening-night-hub.js';
import { loadProducts } from '../../src/scheduling/products.js';
import { migrate } from '../../src/store/migrate.js';
import { PgliteDb } from '../../src/store/pglite-db.js';
import { FhirRepository } from '../../src/store/repository.js';
import { seedClinic } from './support.js';

const HOUR = 3_600_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.each(backends())('an idempotent $book across a kill -9 on %s', (backend) => {
  let storage: { databaseUrl: string } | { dataDir: string };
  let testDb: TestDb | undefined;
  let dataDir: string | undefined;
  let mailbox: Awaited<ReturnType<typeof startMailbox>>;
  const hubs: HubProcess[] = [];
  const uniq = Math.random().toString(36).slice(2, 8);
  const env = (): Record<string, string> => ({
    SMTP_URL: mailbox.url, WAITING_ROOM_EVENT_CACHE_MS: '0', SIGNUP_PER_IP_PER_MINUTE: '6000', CLAIM_PER_IP_PER_MINUTE: '6000',
  });

  const call = async (hub: HubProcess, method: string, p: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${hub.url}${p}`, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': p.startsWith('/fhir') ? 'application/fhir+json' : 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };

  beforeAll(async () => {
    mailbox = await startMailbox();
    if (backend === 'postgres') {
      testDb = await openTestDb('postgres');
      storage = { databaseUrl: testDb.url! };
    } else {
      dataDir = mkdtempSync(path.join(os.tmpdir(), 'vaxhub-idem-crash-'));
      storage = { dataDir };
    }
  });
  afterAll(async () => {
    for (const h of hubs) if (h.proc.exitCode === null && h.proc.signalCode === null) await h.close();
    await testDb?.drop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    await mailbox?.close();
  });

  it('the retry to the restarted hub answers the booking the dead hub committed, and books nothing more', async () => {
    // A clinic with free places and stock, written before the hub starts; its answer to $book is held back 5 s
    // after the commit.
    const db = testDb?.db ?? (await PgliteDb.open(dataDir));
    await migrate(db);
    const slotId = (await seedClinic({ db, repo: new FhirRepository(db), products: loadProducts(), holdSeconds: 300 }, { cvx: '309', slots: 1, capacity: 5, doses: 5, day: '2030-06-03' })).slotIds[0]!;
    if (!testDb) await db.close();
    const first = await spawnHubProcess(storage, { ...env(), VAXHUB_TEST_BOOK_ANSWER_DELAY_MS: '5000' });
    hubs.push(first);
    const now = Date.now();
    const win = await call(first, 'POST', '/admin/windows', { name: `1a ${uniq}`, opensAt: new Date(now - HOUR).toISOString(), closesAt: new Date(now + HOUR).toISOString(), criteria: { tiers: ['1a'] } }, ADMIN);
    expect(win.status).toBe(201);
    const email = `kim-${uniq}@example.org`;
    const reg = await call(first, 'POST', '/signup/register', { name: { family: `kim-${uniq}`, given: ['Test'] }, birthDate: '1980-05-12', email, postalCode: '01201', answers: { occupation: 'healthcare-personnel' } });
    expect(reg.status).toBe(201);
    const draw = await call(first, 'POST', '/admin/draws', { label: `1a ${uniq}`, invitations: 1, windowId: win.body.id, useEquityWeights: true }, ADMIN);
    expect(draw.status).toBe(201);
    await sleep(5);
    expect((await call(first, 'POST', `/admin/draws/${draw.body.id}/run`, {}, ADMIN)).status).toBe(200);
    const invite = await mailbox.waitFor((m) => m.to.includes(email) && /invited/i.test(m.subject));
    const ticket = /\/invitation\/([A-Za-z0-9_-]{16,64})/.exec(invite.text)![1]!;
    expect((await call(first, 'POST', `/signup/tickets/${ticket}/code`)).status).toBe(202);
    const code = /\b(\d{6})\b/.exec((await mailbox.waitFor((m) => m.to.includes(email) && /code/i.test(m.subject))).text)![1]!;
    const claimed = await call(first, 'POST', `/signup/tickets/${ticket}/claim`, { code, birthDate: '1980-05-12' });
    expect(claimed.status).toBe(200);
    const bookedHere = (hub: HubProcess) => call(hub, 'GET', `/fhir/Appointment?slot=Slot/${slotId}&patient=Patient/${reg.body.patientId}`, undefined, ADMIN);

    const headers = { 'x-claim-token': claimed.body.claimToken as string, 'idempotency-key': `crash-${uniq}` };
    const params = { resourceType: 'Parameters', parameter: [{ name: 'appt-id', valueString: `Appointment/slot.${slotId}` }] };
    const lost = call(first, 'POST', '/fhir/Appointment/$book', params, headers).catch((e: unknown) => e);
    // The booking is committed (the hub itself shows it), its answer not yet sent: the hub dies now.
    let committed: string | undefined;
    for (let i = 0; i < 80 && !committed; i++) {
      committed = (await bookedHere(first)).body.entry?.[0]?.resource?.id;
      if (!committed) await sleep(50);
    }
    expect(committed).toBeDefined();
    const exited = new Promise((r) => first.proc.once('exit', r));
    first.proc.kill('SIGKILL');
    await exited;
    expect(await lost).toMatchObject({ message: 'fetch failed' }); // the caller never got the answer

    const second = await spawnHubProcess(storage, env());
    hubs.push(second);
    const retry = await call(second, 'POST', '/fhir/Appointment/$book', params, headers);
    expect(`${retry.status} ${JSON.stringify(retry.body).slice(0, 400)}`).toMatch(/^200 /);
    expect(retry.body.entry[0].resource).toMatchObject({ id: committed, status: 'booked' });
    const again = await call(second, 'POST', '/fhir/Appointment/$book', params, headers);
    expect(again).toEqual(retry);
    const all = await bookedHere(second);
    expect(all.body.entry.map((e: { resource: { id: string } }) => e.resource.id)).toEqual([committed]);
    // A new request with the used invitation is still refused: only the retry is answered.
    const other = await call(second, 'POST', '/fhir/Appointment/$book', params, { ...headers, 'idempotency-key': `new-${uniq}` });
    expect(other.status).toBe(409);
    await second.close();
  }, 240_000);
});
