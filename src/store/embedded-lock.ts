/**
 * Embedded PGlite allows one process per DATA_DIR. A serving hub records itself in DATA_DIR/hub.json
 * (mode 0600: it holds the local operator token) so CLI commands can act through its admin API instead
 * of opening the same files, and refuse clearly when they cannot.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface EmbeddedHubInfo {
  pid: number;
  /** Loopback URL of the running hub; absent while it is still starting. */
  url?: string;
  /** Operator bearer accepted by the running hub's admin API. */
  adminToken?: string;
}

const FILE = 'hub.json';

export function writeHubInfo(dataDir: string, info: EmbeddedHubInfo): void {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, FILE);
  fs.writeFileSync(file, JSON.stringify(info), { mode: 0o600 });
  // `mode` applies only when the file is created: one left by an older hub is closed too.
  fs.chmodSync(file, 0o600);
}

export function removeHubInfo(dataDir: string): void {
  fs.rmSync(path.join(dataDir, FILE), { force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The hub serving this DATA_DIR, if one is running. */
export function runningHub(dataDir: string): EmbeddedHubInfo | undefined {
  try {
    const info = JSON.parse(fs.readFileSync(path.join(dataDir, FILE), 'utf8')) as EmbeddedHubInfo;
    return info.pid !== process.pid && alive(info.pid) ? info : undefined;
  } catch {
    return undefined;
  }
}

/** Refusal to open the embedded database that another process has open; the CLI prints its message and exits 1. */
export class EmbeddedDatabaseBusyError extends Error {
  override name = 'EmbeddedDatabaseBusyError';
}

/** What every command says when a hub owns DATA_DIR: one wording, so operators learn it once. */
export function hubOwnsDataDirMessage(hub: EmbeddedHubInfo, dataDir: string): string {
  return (
    `a hub (pid ${hub.pid}) is ${hub.url ? 'serving' : 'starting on'} the embedded database in ${dataDir}, and only one process may open it: ` +
    'stop the hub and run this again, or run this against PostgreSQL (DATABASE_URL), or do it through the running hub\'s API'
  );
}

const OPEN_LOCK = 'open.lock';

/**
 * The one check every opening of the embedded database passes (PgliteDb.open calls it, so no command can skip it).
 * PGlite has no lock of its own: two processes writing one data directory corrupt it (a seed while `npm start`
 * served ./data left a database whose next start died with `Aborted()`). So: refuse while a hub owns DATA_DIR
 * (hub.json), and take DATA_DIR/open.lock exclusively, which also keeps a hub from starting under a running CLI
 * command and two commands from writing at once. A lock left by a process that died (kill -9) is taken over.
 * Returns the release, to call after the database is closed.
 */
export function claimEmbeddedDataDir(dataDir: string): () => void {
  const hub = runningHub(dataDir);
  if (hub) throw new EmbeddedDatabaseBusyError(hubOwnsDataDirMessage(hub, dataDir));
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, OPEN_LOCK);
  for (let attempt = 0; attempt < 4; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx', mode: 0o600 });
      return () => releaseLock(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = Number(readOrEmpty(file));
    // The same process opening its directory again (a test reopening, a hub restarted as pid 1 in a container).
    if (owner === process.pid) return () => undefined;
    if (owner > 0 && alive(owner)) {
      const other = runningHub(dataDir);
      throw new EmbeddedDatabaseBusyError(
        other
          ? hubOwnsDataDirMessage(other, dataDir)
          : `another vaxhub process (pid ${owner}) has the embedded database in ${dataDir} open, and only one process may open it: ` +
            `wait for it to finish and run this again (if pid ${owner} is not vaxhub, delete ${file})`,
      );
    }
    if (!(owner > 0) && attempt < 2) {
      // Created but not yet written by another process this instant: look again shortly.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
      continue;
    }
    // Left by a process that died: take it over; the retry's 'wx' decides a race between two takers.
    fs.rmSync(file, { force: true });
  }
  throw new EmbeddedDatabaseBusyError(`could not lock the embedded database in ${dataDir} (${file} keeps changing); run this again`);
}

function readOrEmpty(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

function releaseLock(file: string): void {
  if (readOrEmpty(file) === String(process.pid)) fs.rmSync(file, { force: true });
}
