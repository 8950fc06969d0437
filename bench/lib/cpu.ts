/**
 * CPU accounting for benchmarks: CPU time per request is far steadier than requests/s on these two shared cores
 * (a busy neighbour lowers throughput but hardly changes what one request costs), so benchmarks print both.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** CPU seconds (user + system) used so far by a process and its descendants. */
export function cpuSeconds(pid: number): number {
  let ticks: number;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
  } catch {
    return 0; // exited
  }
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    /* no children */
  }
  return ticks / CLOCK_TICKS + children.reduce((sum, c) => sum + cpuSeconds(c), 0);
}
const CLOCK_TICKS = 100; // sysconf(_SC_CLK_TCK) on Linux x86_64

/** CPU seconds used so far by each PostgreSQL process on this machine (the benchmark is its only load), by pid. */
export function postgresCpu(): Map<number, number> {
  const out = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'postgres') continue;
      const fields = readFileSync(`/proc/${entry}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
      out.set(Number(entry), (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS);
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/**
 * PostgreSQL CPU seconds used since `before` (a postgresCpu() snapshot): backends that started since count whole,
 * backends that exited since are left out (their CPU is gone from /proc), so it never goes negative.
 */
export function postgresCpuSince(before: Map<number, number>): number {
  let sum = 0;
  for (const [pid, seconds] of postgresCpu()) sum += seconds - (before.get(pid) ?? 0);
  return sum;
}
