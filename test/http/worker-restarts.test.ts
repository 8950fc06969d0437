/**
 * `serve --workers 2` (PostgreSQL only, so skipped without TEST_DATABASE_URL): a worker killed with kill -9 is
 * replaced, the primary logs the death with its signal and cause, and /metrics (answered by the workers) counts it
 * in vaxhub_worker_restarts_total. Issue 20: before, the replacement happened in silence.
 */
import { execFileSync } from 'node:child_process';
import { spawnHubProcess, type HubProcess } from '../helpers/hub-process.js';
import { ADMIN, openTestDb, type TestDb } from '../helpers/hub.js';

const workersOf = (primary: number): number[] =>
  execFileSync('ps', ['-o', 'pid=', '--ppid', String(primary)], { encoding: 'utf8' })
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((pid) => pid > 0);

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

(process.env.TEST_DATABASE_URL ? describe : describe.skip)('a worker that dies under serve --workers 2', () => {
  let testDb: TestDb;
  let hub: HubProcess | undefined;
  let log = '';

  beforeAll(async () => {
    testDb = await openTestDb('postgres');
    hub = await spawnHubProcess({ databaseUrl: testDb.url! }, { WORKERS: '2', LOG_LEVEL: 'info' }, { onStdout: (t) => void (log += t) });
  }, 120_000);
  afterAll(async () => {
    await hub?.close();
    await testDb?.drop();
  });

  it('is logged with its signal and cause, replaced, and counted on /metrics', async () => {
    const primary = hub!.proc.pid!;
    const before = await until('two workers', () => {
      const pids = workersOf(primary);
      return pids.length === 2 ? pids : undefined;
    });
    const victim = before[0]!;
    process.kill(victim, 'SIGKILL');

    const line = await until('the death logged', () =>
      log
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.msg === 'worker died; starting another' && l.workerPid === victim),
    );
    expect(line).toMatchObject({
      level: 50,
      signal: 'SIGKILL',
      code: null,
      cause: 'killed by SIGKILL: kill -9, or the kernel out-of-memory killer (see dmesg)',
      restarts: 1,
    });

    // Replaced: two workers again, the killed one not among them, and the hub answers.
    const after = await until('a replacement worker', () => {
      const pids = workersOf(primary);
      return pids.length === 2 && !pids.includes(victim) ? pids : undefined;
    });
    expect(after).toContain(before[1]);
    // Every worker reports the primary's count (the new one got it at fork, the survivor by message): ask until both answered.
    const seen = new Set<string>();
    await until('both workers counting the restart', async () => {
      const res = await fetch(`${hub!.url}/metrics`, { headers: { ...ADMIN, connection: 'close' } });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toMatch(/^vaxhub_worker_restarts_total\{cause="SIGKILL"\} 1$/m);
      // Connections go round-robin to the workers; each names itself by its start time.
      seen.add(/^process_start_time_seconds (\d+)$/m.exec(text)![1]!);
      return seen.size >= 2 ? true : undefined;
    });
  }, 120_000);
});
