/**
 * A CPU cap for one process in a benchmark (Linux cgroup v1 `cpu` controller, as root): the process may use at most
 * `cores` of CPU time, in slices of 10 ms so that a throttled process stalls at most a few ms at a time.
 *
 * Why: on two cores the load generator (the crowd) and the server share the machine, so offering 10x a server's
 * capacity needs 10x the generator's CPU from the same two cores. Capping the server leaves the generator room to
 * offer that much, as on opening night, when the crowd has its own machines.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';

const ROOT = '/sys/fs/cgroup/cpu';
const PERIOD_US = 10_000;

export interface CpuCap {
  /** CPU time the cap took away (throttled), seconds. */
  throttledSeconds(): number;
  release(): void;
}

export function capCpu(pid: number, cores: number): CpuCap {
  if (!existsSync(`${ROOT}/cgroup.procs`)) throw new Error(`--hub-cpu needs the cgroup v1 cpu controller at ${ROOT} (and root)`);
  if (!(cores > 0 && cores <= 64)) throw new Error(`--hub-cpu must be a number of cores > 0, got ${cores}`);
  const dir = `${ROOT}/vaxhub-bench-${pid}`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/cpu.cfs_period_us`, String(PERIOD_US));
  writeFileSync(`${dir}/cpu.cfs_quota_us`, String(Math.round(cores * PERIOD_US)));
  writeFileSync(`${dir}/cgroup.procs`, String(pid));
  return {
    throttledSeconds: () => Number(/throttled_time (\d+)/.exec(readFileSync(`${dir}/cpu.stat`, 'utf8'))?.[1] ?? 0) / 1e9,
    release: () => {
      try {
        writeFileSync(`${ROOT}/cgroup.procs`, String(pid));
      } catch { /* exited */ }
      try {
        rmdirSync(dir);
      } catch { /* still busy: the kernel removes nothing by itself, but an empty group costs nothing */ }
    },
  };
}
