import { readFileSync } from 'node:fs';

/**
 * Where the server's wall time goes besides its own CPU, read from Linux's /proc (NaN elsewhere): how long its main
 * thread was runnable but had no core (the other processes of the bench on the same two cores), and how much CPU the
 * hypervisor took from the machine (steal). A slow latency run with a large wait or steal was slowed by the machine.
 */
export interface SchedulingSample {
  /** ms the server's main thread ran, and waited in the run queue, since it started (`/proc/<pid>/task/<pid>/schedstat`). */
  mainRunMs: number;
  mainWaitMs: number;
  /** ms of CPU steal over all cores since boot (`/proc/stat`, in USER_HZ ticks of 10 ms). */
  stealMs: number;
}

const TICK_MS = 10;

function schedstat(pid: number): [number, number] {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
    return [(run ?? Number.NaN) / 1e6, (wait ?? Number.NaN) / 1e6];
  } catch {
    return [Number.NaN, Number.NaN];
  }
}

/** ms of CPU steal over all cores since boot (NaN without /proc/stat). */
export function machineStealMs(): number {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith('cpu '));
    // cpu  user nice system idle iowait irq softirq steal guest guest_nice
    return Number(cpu?.trim().split(/\s+/)[8]) * TICK_MS;
  } catch {
    return Number.NaN;
  }
}

export function sampleScheduling(serverPid: number): SchedulingSample {
  const [mainRunMs, mainWaitMs] = schedstat(serverPid);
  return { mainRunMs, mainWaitMs, stealMs: machineStealMs() };
}

/** `after − before`, field by field. */
export function schedulingDelta(before: SchedulingSample, after: SchedulingSample): SchedulingSample {
  return {
    mainRunMs: after.mainRunMs - before.mainRunMs,
    mainWaitMs: after.mainWaitMs - before.mainWaitMs,
    stealMs: after.stealMs - before.stealMs,
  };
}
