import { join } from 'node:path';
import type { Bitrix24Emulator } from '../../test/emulators/bitrix24/harness.js';
import type { YeastarEmulator } from '../../test/emulators/yeastar/harness.js';
import { knownNumbers, startCall } from '../lib/calls.js';
import { sleep } from '../lib/observe.js';
import { inPool, setUpPortal, type BenchPortal } from '../lib/portal.js';
import type { ProbeMemory } from '../lib/probe.js';
import type { ServerProcess } from '../lib/server-process.js';
import { atMost, info, type ResultRow } from '../lib/stats.js';

/**
 * Many tenants: `pbxes.length` portals on one server process, each with its own PBX (one emulator process, a PBX per
 * path prefix), one call per portal every `periodMs`, for `seconds`. Memory comes from the server itself
 * (bench/lib/probe.ts): the RSS high-water mark (the kernel's VmHWM: the true peak, not the peak of samples), and the
 * largest heap in use, external and array-buffer bytes of 1-s samples. The event-loop figure is the worst p99 of the
 * 10-s slices completed during the run (/metrics). Per-portal bytes: (memory once all portals are linked and idle −
 * memory of the fresh server) ÷ portals, after a full GC.
 */
export interface TenantsOptions {
  seconds: number;
  /** Each portal places one call every `periodMs`. */
  periodMs: number;
  rssLimitMb: number;
  /** BENCH_HEAP_DIR: a heap snapshot of the server at the end of the run goes there (bench/heap-summary.ts reads it). */
  heapSnapshotDir?: string;
  /** Names the snapshot file. */
  label: string;
}

const MB = 2 ** 20;
const mb = (bytes: number): number => bytes / MB;

export async function measureTenants(
  b24: Bitrix24Emulator, server: ServerProcess, pbxes: readonly YeastarEmulator[], log: (line: string) => void, opts: TenantsOptions,
): Promise<ResultRow[]> {
  const { seconds, periodMs } = opts;
  // A thousand installs on a 2-core machine: the product's installer page may answer after the emulator's default
  // 10 s (a real Bitrix24 waits longer for it); a slow install is an install, not a failed run.
  await b24.configure({ deliveryTimeoutMs: 60_000 });
  const fresh = await server.memory(true);
  const setupStarted = Date.now();
  const numbers = knownNumbers().slice(0, 3);
  const portals: BenchPortal[] = await inPool(pbxes, 12, (pbx) => setUpPortal(b24, server.url, pbx, { autoCreate: false, knownNumbers: numbers }));
  log(`tenants: ${portals.length} portals installed and linked in ${((Date.now() - setupStarted) / 1000).toFixed(1)} s`);
  await sleep(2000);
  const idle = await server.memory(true);
  const perPortal = (pick: (m: ProbeMemory) => number): number => (pick(idle) - pick(fresh)) / portals.length;

  const runStarted = Date.now();
  const peak = { heapUsed: 0, external: 0, arrayBuffers: 0, rss: 0 };
  const sliceP99 = new Map<number, number>();
  let sampling = true;
  const sampler = (async () => {
    let k = 0;
    while (sampling) {
      const m = await server.memory();
      peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed);
      peak.external = Math.max(peak.external, m.external);
      peak.arrayBuffers = Math.max(peak.arrayBuffers, m.arrayBuffers);
      peak.rss = Math.max(peak.rss, m.rss);
      if (k % 2 === 0) {
        const metrics = await server.metrics();
        const end = (metrics.get('pbxb24_event_loop_slice_end_seconds') ?? 0) * 1000;
        // Only slices that lie wholly inside the run.
        if (end - 10_000 >= runStarted) sliceP99.set(end, (metrics.get('pbxb24_event_loop_delay_seconds{quantile="0.99"}') ?? Number.NaN) * 1000);
      }
      k += 1;
      await sleep(1000);
    }
  })();

  const callIds: Promise<string>[] = [];
  const plan = portals.flatMap((p, i) => Array.from({ length: Math.max(1, Math.floor(seconds * 1000 / periodMs)) }, (_, k) => ({
    portal: p, at: runStarted + (i * Math.min(periodMs, seconds * 1000)) / portals.length + k * periodMs, n: k + i,
  }))).sort((a, b) => a.at - b.at);
  for (const call of plan) {
    const wait = call.at - Date.now();
    if (wait > 0) await sleep(wait);
    callIds.push(startCall(call.portal.pbx, call.n % 2 === 0 ? 'inbound-answered' : 'inbound-missed', {
      from: numbers[call.n % numbers.length], to: '1001', speed: 10, ringSeconds: 3,
      ...(call.n % 2 === 0 ? { talkSeconds: 15, record: true } : {}),
    }));
  }
  await Promise.all(callIds);
  await Promise.all(portals.map((p) => p.pbx.waitIdle()));
  await sleep(12_000);
  sampling = false;
  await sampler;
  // Read before any snapshot: writing one grows the RSS by a lot.
  const end = await server.memory();

  if (opts.heapSnapshotDir) {
    const file = await server.heapSnapshot(join(opts.heapSnapshotDir, `${opts.label}-${Date.now()}.heapsnapshot`));
    log(`tenants: heap snapshot ${file}`);
  }

  const loopP99 = sliceP99.size === 0 ? Number.NaN : Math.max(...sliceP99.values());
  let logged = 0;
  for (const p of portals.slice(0, 20)) logged += (await b24.calls(p.memberId)).filter((c) => c.finished).length;
  const rssMax = mb(Math.max(end.rssPeak, peak.rss));
  log(`tenants: ${plan.length} calls, RSS fresh ${mb(fresh.rss).toFixed(0)} MB, idle ${mb(idle.rss).toFixed(0)} MB, peak ${rssMax.toFixed(0)} MB; `
    + `heap ${mb(peak.heapUsed).toFixed(0)} MB, external ${mb(peak.external).toFixed(0)} MB, array buffers ${mb(peak.arrayBuffers).toFixed(0)} MB; `
    + `per portal RSS ${(perPortal((m) => m.rss) / 1024).toFixed(0)} KB heap ${(perPortal((m) => m.heapUsed) / 1024).toFixed(0)} KB; `
    + `loop p99 by slice ${[...sliceP99.values()].map((v) => v.toFixed(1)).join(' ')}`);
  const section = `${portals.length} tenants, 1 call/portal/${periodMs / 1000} s × ${seconds} s`;
  const kb = (bytes: number): number => Math.round(bytes / 1024);
  return [
    atMost(section, 'resident memory, max', rssMax, 'MB', opts.rssLimitMb,
      `kernel high-water mark; ${mb(idle.rss).toFixed(0)} MB once all portals were linked, ${mb(fresh.rss).toFixed(0)} MB before the first`),
    info(section, 'V8 heap in use, max', mb(peak.heapUsed), 'MB', `external ${mb(peak.external).toFixed(0)} MB, of it array buffers ${mb(peak.arrayBuffers).toFixed(0)} MB (max of 1-s samples)`),
    info(section, 'memory per portal, linked and idle', kb(perPortal((m) => m.rss)), 'KB RSS',
      `heap ${kb(perPortal((m) => m.heapUsed))} KB, external ${kb(perPortal((m) => m.external))} KB (after a full GC, minus the fresh server)`),
    atMost(section, 'event-loop delay p99', loopP99, 'ms', 50, `worst of ${sliceP99.size} 10-s slices`),
    info(section, 'calls placed', plan.length, 'calls', `first 20 portals logged ${logged} of ${plan.filter((c) => portals.indexOf(c.portal) < 20).length}`),
  ];
}
