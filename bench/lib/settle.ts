import { spawnSync } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Puts the machine back at rest before a run of a phase, so that one run does not pay for the one before it.
 * Why: in full benches the first latency run came out far slower than the next two (20 at once, cached: p50 48 vs 21–34,
 * p99 71 vs 30–42 ms; 100 at once p99 275 vs 167–176), right after the history phase, which loads 100,000 calls
 * into THIS process six times and writes their journals; run alone after one history run, latency was as fast as usual.
 * What the previous phase leaves: garbage in this process's old generation, which V8 collects when it sees fit (its
 * marking then competes for the two cores with the server being measured), and dirty pages, which the kernel writes
 * back when it sees fit (and an fdatasync of the server may wait behind them).
 */
setFlagsFromString('--expose-gc');
const fullGc = runInNewContext('gc') as () => void;

export function settleMachine(): { ms: number } {
  const started = Date.now();
  fullGc();
  // sync(1): every dirty page of every file system written back now, not during the next measurement.
  spawnSync('sync', { stdio: 'ignore' });
  return { ms: Date.now() - started };
}
