/**
 * The bench's disk guard. A 1M-person run needs tens of GB on the filesystem of PostgreSQL's data directory, on a
 * machine other sessions share: before starting, the bytes the run will add are estimated from a figure per
 * person (measured, see RESULTS.md) and the run refuses to start unless 15 GB would still be free after it; while
 * it runs, free space is sampled and the run stops cleanly (no new ranges, the database kept for --resume) once
 * it falls under 10 GB.
 */
import fs from 'node:fs';
import type { Queryable } from '../../src/store/db.js';

/** As `df -h` counts (GiB). */
export const GB = 1024 ** 3;
/** Refuse to start unless this much would be left after the estimate. */
export const START_RESERVE = 15 * GB;
/** Stop while running under this. */
export const RUN_RESERVE = 10 * GB;

/**
 * Bytes a person adds with every phase done (seeded record, first forecast, the rule update's new versions), as
 * measured after all phases (bench/forecast/RESULTS.md, "how to run 1M"; kB = 1,024 bytes), rounded up: 78.7 kB at 5,000 people
 * (76 kB at 100,000) with the full seed, LIGHT_BYTES_PER_PERSON with --light-seed. WAL is budgeted apart.
 */
export const BYTES_PER_PERSON = 80 * 1024;
/** Measured 59.9 kB a person at 20,000 people, all phases, --light-seed. */
export const LIGHT_BYTES_PER_PERSON = 61 * 1024;
/** WAL PostgreSQL may hold at once (max_wal_size is read at start; this is the floor). */
const WAL_FLOOR = 2 * GB;

/** The filesystem to watch: PostgreSQL's data directory, when it is on this machine. */
export async function dataDirectory(db: Queryable): Promise<string | undefined> {
  try {
    const r = await db.query<{ data_directory: string }>('SHOW data_directory');
    const dir = r.rows[0]?.data_directory;
    return dir && fs.existsSync(dir) ? dir : undefined;
  } catch {
    // not a superuser (pg_read_all_settings): the caller names the path with --data-dir
    return undefined;
  }
}

export function freeBytes(dir: string): number {
  const s = fs.statfsSync(dir);
  return s.bavail * s.bsize;
}

/** The WAL budget: max_wal_size (PostgreSQL may keep that much and more between checkpoints), at least 2 GB. */
export async function walBudget(db: Queryable): Promise<number> {
  const r = await db.query<{ b: string }>(`SELECT setting::bigint * (CASE unit WHEN 'MB' THEN 1048576 WHEN 'kB' THEN 1024 ELSE 1 END) AS b FROM pg_settings WHERE name = 'max_wal_size'`);
  return Math.max(WAL_FLOOR, 2 * Number(r.rows[0]?.b ?? 0));
}

export interface DiskPlan {
  dir: string;
  free: number;
  needed: number;
  ok: boolean;
  message: string;
}

/** Whether `newPeople` more people (with every phase) fit, leaving START_RESERVE free. */
export function planDisk(dir: string, free: number, newPeople: number, wal: number, forecastOnly = 0, perPerson = BYTES_PER_PERSON): DiskPlan {
  const needed = newPeople * perPerson + forecastOnly * FORECAST_BYTES_PER_PERSON + wal;
  const left = free - needed;
  const gb = (n: number) => `${(n / GB).toFixed(1)} GB`;
  const ok = left >= START_RESERVE;
  const message = ok
    ? `disk: ${gb(free)} free on ${dir}, the run needs about ${gb(needed)} (WAL ${gb(wal)} included), ${gb(left)} would be left`
    : `refusing to start: ${gb(free)} free on ${dir} (PostgreSQL's data directory), the run needs about ${gb(needed)} ` +
      `(${(perPerson / 1024).toFixed(0)} kB a person with every phase, WAL ${gb(wal)}), which would leave ${gb(left)}, under the ${gb(START_RESERVE)} ` +
      'kept free for everyone else on this machine. Free space, or run fewer people (--people).';
  return { dir, free, needed, ok, message };
}

/**
 * Bytes a person's stored forecast adds (first forecast and the rule update), for --reuse/--resume over seeded
 * people: about 42 kB in the 20,000-person light run (its database less the seeded record), rounded up.
 */
export const FORECAST_BYTES_PER_PERSON = 50 * 1024;

/**
 * Samples free space every few seconds while the run goes on; `low()` turns true (and stays) once it fell under
 * RUN_RESERVE. `stop()` ends the sampling.
 */
export function watchDisk(dir: string, onLow: (free: number) => void, everyMs = 5000): { low: () => boolean; stop: () => void } {
  let low = false;
  const check = () => {
    if (low) return;
    const free = freeBytes(dir);
    if (free < RUN_RESERVE) {
      low = true;
      onLow(free);
    }
  };
  check();
  const timer = setInterval(check, everyMs);
  timer.unref();
  return { low: () => low, stop: () => clearInterval(timer) };
}
