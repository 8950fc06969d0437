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
