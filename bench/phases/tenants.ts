import type { Bitrix24Emulator } from '../../test/emulators/bitrix24/harness.js';
import type { YeastarEmulator } from '../../test/emulators/yeastar/harness.js';
import { knownNumbers, startCall } from '../lib/calls.js';
import { sleep } from '../lib/observe.js';
import { inPool, setUpPortal, type BenchPortal } from '../lib/portal.js';
import type { ServerProcess } from '../lib/server-process.js';
import { atMost, info, type ResultRow } from '../lib/stats.js';

/**
 * Many tenants: `count` portals on one server process, each with its own PBX (one emulator process, a PBX per path
 * prefix), one call per portal every 10 s, for `seconds`. The server's resident memory and event-loop delay are read
 * from its /metrics every 2 s; the event-loop figure is the worst p99 of the 10-s slices completed during the run.
 */
export async function measureTenants(
  b24: Bitrix24Emulator, server: ServerProcess, pbxes: readonly YeastarEmulator[], log: (line: string) => void, seconds = 60,
): Promise<ResultRow[]> {
  const setupStarted = Date.now();
  const numbers = knownNumbers().slice(0, 3);
  const portals: BenchPortal[] = await inPool(pbxes, 12, (pbx) => setUpPortal(b24, server.url, pbx, { autoCreate: false, knownNumbers: numbers }));
  log(`tenants: ${portals.length} portals installed and linked in ${((Date.now() - setupStarted) / 1000).toFixed(1)} s`);
  const idle = await server.metrics();
  const rssIdle = (idle.get('process_resident_memory_bytes') ?? Number.NaN) / 2 ** 20;

  const runStarted = Date.now();
  let rssMax = 0;
  let heapMax = 0;
  const sliceP99 = new Map<number, number>();
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const m = await server.metrics();
      rssMax = Math.max(rssMax, (m.get('process_resident_memory_bytes') ?? 0) / 2 ** 20);
      heapMax = Math.max(heapMax, (m.get('nodejs_heap_size_used_bytes') ?? 0) / 2 ** 20);
      const end = (m.get('pbxb24_event_loop_slice_end_seconds') ?? 0) * 1000;
      // Only slices that lie wholly inside the run.
      if (end - 10_000 >= runStarted) sliceP99.set(end, (m.get('pbxb24_event_loop_delay_seconds{quantile="0.99"}') ?? Number.NaN) * 1000);
      await sleep(2000);
    }
  })();

  const callIds: Promise<string>[] = [];
  const periodMs = 10_000;
  const plan = portals.flatMap((p, i) => Array.from({ length: Math.floor(seconds * 1000 / periodMs) }, (_, k) => ({
    portal: p, at: runStarted + (i * periodMs) / portals.length + k * periodMs, n: k,
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

  const loopP99 = sliceP99.size === 0 ? Number.NaN : Math.max(...sliceP99.values());
  let logged = 0;
  for (const chunk of [portals.slice(0, 20)]) {
    for (const p of chunk) logged += (await b24.calls(p.memberId)).filter((c) => c.finished).length;
  }
  log(`tenants: ${plan.length} calls, RSS idle ${rssIdle.toFixed(0)} MB, max ${rssMax.toFixed(0)} MB, loop p99 by slice ${[...sliceP99.values()].map((v) => v.toFixed(1)).join(' ')}`);
  const section = `${portals.length} tenants, 1 call/portal/10 s × ${seconds} s`;
  return [
    atMost(section, 'resident memory, max', rssMax, 'MB', 300, `${rssIdle.toFixed(0)} MB once all portals were linked; V8 heap in use at most ${heapMax.toFixed(0)} MB`),
    atMost(section, 'event-loop delay p99', loopP99, 'ms', 50, `worst of ${sliceP99.size} 10-s slices`),
    info(section, 'calls placed', plan.length, 'calls', `first 20 portals logged ${logged} of ${plan.filter((c) => portals.indexOf(c.portal) < 20).length}`),
  ];
}
