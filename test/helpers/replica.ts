/**
 * A streaming replica of the test PostgreSQL, made by the test: `pg_basebackup -R` of the primary at
 * TEST_DATABASE_URL into a temporary directory, started with `pg_ctl` on a free port as a hot standby, stopped and
 * deleted at the end. The server binaries come from the PostgreSQL the primary runs (Debian: /usr/lib/postgresql/N/bin).
 * The server must not run as root: when the test does, the replica runs as the primary's OS user (postgres).
 * The primary must accept replication connections from 127.0.0.1 (`host replication all 127.0.0.1/32 trust`, which
 * .ci/run adds); without it there is no replica, and the reason says so.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './hub-process.js';

export interface Replica {
  /** `postgres://...` of the replica, for the same database as the primary URL it was made from. */
  url(primaryUrl: string): string;
  port: number;
  stop(): void;
  start(): void;
  remove(): void;
}

function binDir(): string | undefined {
  const viaConfig = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  const candidates = [
    ...(viaConfig.status === 0 ? [viaConfig.stdout.trim()] : []),
    ...(existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').sort().reverse().map((v) => `/usr/lib/postgresql/${v}/bin`) : []),
  ];
  return candidates.find((d) => existsSync(path.join(d, 'pg_ctl')) && existsSync(path.join(d, 'pg_basebackup')));
}

/** Runs a server binary as the user who may run the server (postgres when we are root). */
function run(bin: string, args: string[], uid?: number, gid?: number): { status: number | null; out: string } {
  const r = spawnSync(bin, args, { encoding: 'utf8', ...(uid !== undefined ? { uid, gid } : {}), timeout: 120_000 });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** Makes and starts the replica, or says why it cannot be made here. */
export async function makeReplica(primaryUrl: string): Promise<Replica | { missing: string }> {
  const bin = binDir();
  if (!bin) return { missing: 'PostgreSQL server binaries (pg_ctl, pg_basebackup) not found: apt-get install postgresql' };
  let uid: number | undefined;
  let gid: number | undefined;
  if (process.getuid?.() === 0) {
    try {
      uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
      gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    } catch {
      return { missing: 'running as root and there is no postgres user to run the replica server as' };
    }
  }
  const primary = new URL(primaryUrl);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'vaxhub-replica-'));
  if (uid !== undefined) chownSync(dir, uid, gid!);
  chmodSync(dir, 0o700);
  const data = path.join(dir, 'data');
  const backup = run(path.join(bin, 'pg_basebackup'), [
    '-h', primary.hostname, '-p', primary.port || '5432', '-U', decodeURIComponent(primary.username || 'postgres'),
    '-D', data, '-R', '-X', 'stream', '--checkpoint=fast', '--no-sync',
  ], uid, gid);
  if (backup.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return { missing: `pg_basebackup from ${primary.host} failed (the primary must accept replication connections from this host: pg_hba.conf "host replication all 127.0.0.1/32 trust", see .ci/run): ${backup.out.trim()}` };
  }
  const port = await freePort();
  // Debian keeps the primary's configuration outside its data directory: the copy has none, so it gets its own.
  const own = (file: string, text: string): void => {
    writeFileSync(path.join(data, file), text);
    if (uid !== undefined) chownSync(path.join(data, file), uid, gid!);
  };
  own('postgresql.conf', `port = ${port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '${dir}'\nhot_standby = on\nhot_standby_feedback = on\nmax_connections = 100\nfsync = off\n`);
  own('pg_hba.conf', 'local all all trust\nhost all all 127.0.0.1/32 trust\n');
  own('pg_ident.conf', '');
  const pgCtl = path.join(bin, 'pg_ctl');
  const replica: Replica = {
    port,
    url(primaryUrl2: string) {
      const u = new URL(primaryUrl2);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    start() {
      const r = run(pgCtl, ['-D', data, '-l', path.join(dir, 'server.log'), '-w', '-t', '60', 'start'], uid, gid);
      if (r.status !== 0) throw new Error(`the replica did not start: ${r.out}`);
    },
    stop() {
      run(pgCtl, ['-D', data, '-m', 'fast', '-w', 'stop'], uid, gid);
    },
    remove() {
      replica.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  replica.start();
  return replica;
}
