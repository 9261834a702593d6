import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { startBitrix24Emulator, type Bitrix24Emulator } from '../../test/emulators/bitrix24/harness.js';
import { startYeastarEmulators, type YeastarEmulatorFleet } from '../../test/emulators/yeastar/harness.js';
import { startFront, type Front } from '../../test/integration/cluster/support/front.js';
import { startPostgres, type PgCluster } from '../../test/support/postgres.js';
import { knownNumbers, startCall } from '../lib/calls.js';
import { sleep } from '../lib/observe.js';
import { machineStealMs } from '../lib/scheduling.js';
import { inPool, setUpPortal, type BenchPortal } from '../lib/portal.js';
import { startServerProcess, type ServerProcess } from '../lib/server-process.js';
import { atMost, exactly, info, type ResultRow } from '../lib/stats.js';

/**
 * Issue 14: `portals` portals across two instances on one PostgreSQL (fsync on), behind a round-robin front (the
 * fault test's, test/integration/cluster/support/front.ts) that is both instances' PUBLIC_URL.
 * Instance A starts alone and every portal is installed and set up through the front as an admin does it
 * (bench/lib/portal.ts); then instance B starts and takes its fair share of the leases (A gives up its surplus). Once
 * /metrics of the two shows every portal owned, each portal places one call in `seconds` (half answered with a
 * recording, half missed). Per instance: the largest RSS of 1-s samples from B's start (bench/lib/probe.ts) and the
 * worst 10-s event-loop p99 slice of the call minute (/metrics); for the calls: each PBX call must have exactly one successful telephony.externalCall.register
 * and one finish in the Bitrix24 emulator (two instances never send the same write, none is lost).
 */
export interface ClusterBenchOptions {
  portals: number;
  seconds: number;
}

const MB = 2 ** 20;
const OWNED = 'pbxb24_portals_owned';

function portOf(server: ServerProcess): number {
  return Number(new URL(server.url).port);
}

/** Portals this instance reports owning (`pbxb24_portals_owned{instance="…"}`); NaN when not reported. */
async function ownedBy(server: ServerProcess): Promise<number> {
  const metrics = await server.metrics();
  const key = [...metrics.keys()].find((k) => k === OWNED || k.startsWith(`${OWNED}{`));
  return key === undefined ? Number.NaN : metrics.get(key) ?? Number.NaN;
}

interface InstanceSample {
  rss: number;
  sliceP99: Map<number, number>;
}

/** Every second: RSS; every other second: the last completed 10-s event-loop slice, if it lies inside the run. */
function sampleInstance(server: ServerProcess, since: () => number, into: InstanceSample, running: () => boolean): Promise<void> {
  return (async () => {
    for (let k = 0; running(); k += 1) {
      const m = await server.memory();
      into.rss = Math.max(into.rss, m.rss);
      if (k % 2 === 0) {
        const metrics = await server.metrics();
        const end = (metrics.get('pbxb24_event_loop_slice_end_seconds') ?? 0) * 1000;
        if (end - 10_000 >= since()) into.sliceP99.set(end, (metrics.get('pbxb24_event_loop_delay_seconds{quantile="0.99"}') ?? Number.NaN) * 1000);
      }
      await sleep(1000);
    }
  })();
}

interface PlacedCall {
  portal: BenchPortal;
  callId: string;
}

interface LoggedCount {
  once: number;
  twice: number;
  /** Registered once, not finished (yet). */
  unfinished: number;
  /** Never registered. */
  missing: number;
}

/**
 * Counts until every call is logged once, or the count stops moving for `quietMs` (a loaded instance's outbox may
 * still be draining when the PBXs are idle): a late call is told apart from a lost one, and the drain time is kept.
 */
async function countUntilSettled(b24: Bitrix24Emulator, calls: readonly PlacedCall[], quietMs: number, maxMs: number): Promise<LoggedCount & { settleSeconds: number }> {
  const started = Date.now();
  let last = await countLogged(b24, calls);
  let lastChange = Date.now();
  while (last.once < calls.length && Date.now() - lastChange < quietMs && Date.now() - started < maxMs) {
    await sleep(3000);
    const next = await countLogged(b24, calls);
    if (next.once !== last.once || next.twice !== last.twice) lastChange = Date.now();
    last = next;
  }
  return { ...last, settleSeconds: (Date.now() - started) / 1000 };
}

/** How many PBX calls Bitrix24 shows registered once and finished once, twice (or more), unfinished, or not at all. */
async function countLogged(b24: Bitrix24Emulator, calls: readonly PlacedCall[]): Promise<LoggedCount> {
  const registers = (await b24.requests({ method: 'telephony.externalCall.register' })).filter((r) => r.httpStatus === 200 && r.error === null);
  const finishes = (await b24.requests({ method: 'telephony.externalCall.finish' })).filter((r) => r.httpStatus === 200 && r.error === null);
  const finishCount = new Map<string, number>();
  for (const f of finishes) {
    const id = String(f.params.CALL_ID ?? '');
    finishCount.set(id, (finishCount.get(id) ?? 0) + 1);
  }
  const byPortal = new Map<string, PlacedCall[]>();
  for (const c of calls) byPortal.set(c.portal.memberId, [...(byPortal.get(c.portal.memberId) ?? []), c]);
  let once = 0;
  let twice = 0;
  let unfinished = 0;
  let missing = 0;
  await inPool([...byPortal.entries()], 16, async ([memberId, placed]) => {
    const cards = await b24.calls(memberId);
    for (const call of placed) {
      const regs = registers.filter((r) => r.memberId === memberId && String(r.params.EXTERNAL_CALL_ID ?? '').includes(call.callId)).length;
      const mine = cards.filter((c) => (c.externalCallId ?? '').includes(call.callId));
      const fins = mine.reduce((n, c) => n + (finishCount.get(c.callId) ?? 0), 0);
      if (regs === 1 && fins === 1 && mine.length === 1) once += 1;
      else if (regs > 1 || fins > 1 || mine.length > 1) twice += 1;
      else if (regs === 1) unfinished += 1;
      else missing += 1;
    }
  });
  return { once, twice, unfinished, missing };
}

export async function measureCluster(log: (line: string) => void, opts: ClusterBenchOptions): Promise<ResultRow[]> {
  let cluster: PgCluster | undefined;
  let b24: Bitrix24Emulator | undefined;
  let fleet: YeastarEmulatorFleet | undefined;
  let front: Front | undefined;
  const servers: ServerProcess[] = [];
  let sampling = true;
  try {
    cluster = await startPostgres({ durable: true });
    const databaseUrl = await cluster.createDatabase('bench_cluster');
    [b24, fleet, front] = await Promise.all([
      startBitrix24Emulator({ rateLimit: true }), startYeastarEmulators(opts.portals, { speed: 1000 }), startFront(60_000),
    ]);
    const emulator = b24;
    await emulator.configure({ deliveryTimeoutMs: 60_000 });
    const secretKey = randomBytes(32).toString('hex');
    const publicUrl = front.url;
    const env = (id: string): Record<string, string> => ({
      DATABASE_URL: databaseUrl, INSTANCE_ID: id, SECRET_KEY: secretKey, PUBLIC_URL: publicUrl, B24_OAUTH_SERVER: emulator.serverEndpoint,
    });
    const a = await startServerProcess(env('bench-a'));
    servers.push(a);
    front.setBackends([portOf(a)]);
    const setupStarted = Date.now();
    const numbers = knownNumbers().slice(0, 3);
    const portals = await inPool(fleet.pbxes, 12, (pbx) => setUpPortal(emulator, publicUrl, pbx, { autoCreate: false, knownNumbers: numbers }));
    log(`cluster: ${portals.length} portals installed and linked through instance A in ${((Date.now() - setupStarted) / 1000).toFixed(1)} s`);

    const b = await startServerProcess(env('bench-b'));
    servers.push(b);
    front.setBackends([portOf(a), portOf(b)]);
    const joined = Date.now();
    // Memory from B's start (its take-over of half the portals included); event-loop slices only from the calls' start.
    const window = { since: Number.POSITIVE_INFINITY };
    const watched = servers.map((server) => ({ server, sample: { rss: 0, sliceP99: new Map<number, number>() } as InstanceSample }));
    const samplers = watched.map((w) => sampleInstance(w.server, () => window.since, w.sample, () => sampling));
    let owned: number[] = [];
    for (;;) {
      owned = await Promise.all([ownedBy(a), ownedBy(b)]);
      const [ownedA = 0, ownedB = 0] = owned;
      if (ownedA + ownedB === portals.length && ownedB >= Math.floor(portals.length / 2) - 1) break;
      if (Date.now() - joined > 180_000) throw new Error(`instance B did not take its share within 180 s: owned ${JSON.stringify(owned)}`);
      await sleep(1000);
    }
    const shareSeconds = (Date.now() - joined) / 1000;
    log(`cluster: instance B owns ${String(owned[1])} of ${portals.length} ${shareSeconds.toFixed(1)} s after it started`);
    await sleep(3000);

    const runStarted = Date.now();
    window.since = runStarted;
    const stealBefore = machineStealMs();
    const periodMs = Math.max(1000, opts.seconds * 1000);
    const plan = portals.map((portal, i) => ({ portal, at: runStarted + (i * periodMs) / portals.length, n: i }));
    const placing: Promise<PlacedCall>[] = [];
    for (const call of plan) {
      const wait = call.at - Date.now();
      if (wait > 0) await sleep(wait);
      placing.push(startCall(call.portal.pbx, call.n % 2 === 0 ? 'inbound-answered' : 'inbound-missed', {
        from: numbers[call.n % numbers.length], to: '1001', speed: 10, ringSeconds: 3,
        ...(call.n % 2 === 0 ? { talkSeconds: 15, record: true } : {}),
      }).then((callId) => ({ portal: call.portal, callId })));
    }
    const placed = await Promise.all(placing);
    await Promise.all(portals.map((p) => p.pbx.waitIdle()));
    await sleep(15_000);
    sampling = false;
    const stealMs = machineStealMs() - stealBefore;
    const sampledMs = Date.now() - runStarted;
    await Promise.all(samplers);
    const ends = await Promise.all(watched.map(async (w) => ({ ...w, end: await w.server.memory() })));
    const logged = await countUntilSettled(emulator, placed, 20_000, 180_000);

    const section = `${portals.length} portals across 2 instances (PostgreSQL), 1 call/portal in ${opts.seconds} s`;
    const rows: ResultRow[] = [];
    ends.forEach(({ sample, end }, i) => {
      const name = i === 0 ? 'A' : 'B';
      // The 1-s samples of the run, not the kernel's high-water mark: A's mark includes the set-up, when A alone
      // held every portal (what the tenants1000 phase measures), and cannot be reset from here.
      const rss = sample.rss / MB;
      const p99 = sample.sliceP99.size === 0 ? Number.NaN : Math.max(...sample.sliceP99.values());
      rows.push(atMost(section, `instance ${name}: resident memory, max`, rss, 'MB', 500, `max of 1-s samples from B's start to the end (kernel high-water mark ${(end.rssPeak / MB).toFixed(0)} MB, set-up included); owned ${String(owned[i])} portals`));
      rows.push(atMost(section, `instance ${name}: event-loop delay p99`, p99, 'ms', 50, `worst of ${sample.sliceP99.size} 10-s slices`));
    });
    rows.push(exactly(section, 'calls logged exactly once', logged.once, `of ${placed.length}`, placed.length,
      `${logged.twice} twice, ${logged.unfinished} registered but not finished, ${logged.missing} never registered; counted until settled, `
      + `${logged.settleSeconds.toFixed(0)} s after the PBXs were idle + 15 s (one register and one finish per PBX call)`));
    // What the machine did meanwhile, so a run slowed by the hypervisor (steal) is told apart from a slower product.
    rows.push(info(section, 'CPU steal of the machine during the calls', stealMs / 1000, 's',
      `all cores, /proc/stat, over the ${(sampledMs / 1000).toFixed(0)} s of the event-loop slices (${cpus().length} cores: ${(100 * stealMs / (sampledMs * cpus().length)).toFixed(1)} % of their time)`));
    rows.push(info(section, 'new instance took its share', shareSeconds, 's', `B started → both report every portal owned (${String(owned[0])} + ${String(owned[1])})`));
    log(`cluster: RSS ${rows.filter((r) => r.unit === 'MB').map((r) => r.value.toFixed(0)).join(' / ')} MB; loop p99 `
      + `${watched.map((w) => [...w.sample.sliceP99.values()].map((v) => v.toFixed(1)).join(' ')).join(' | ')}; steal ${(stealMs / 1000).toFixed(1)} s; logged once ${logged.once} of ${placed.length} (${logged.twice} twice, ${logged.unfinished} unfinished, ${logged.missing} never registered)`);
    return rows;
  } finally {
    sampling = false;
    await Promise.all(servers.map((s) => s.stop()));
    await Promise.all([b24?.stop(), fleet?.stop(), front?.close()]);
    await cluster?.stop();
  }
}
