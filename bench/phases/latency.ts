import type { Bitrix24Emulator } from '../../test/emulators/bitrix24/harness.js';
import { knownNumbers } from '../lib/calls.js';
import { popLatencies, registerTimes, ringTimes, sleep, waitOutboxDrained, waitRegistered } from '../lib/observe.js';
import type { BenchPortal } from '../lib/portal.js';
import { sampleScheduling, schedulingDelta, type SchedulingSample } from '../lib/scheduling.js';
import type { ServerProcess } from '../lib/server-process.js';
import { atMost, distribution, info, type ResultRow } from '../lib/stats.js';

/**
 * Screen-pop latency: the PBX's first ring event (the emulator's send time) → `telephony.externalCall.register`
 * received by the portal (the emulator's receive time), for known numbers. Calls ring until the round is measured
 * (held at ringing), so a round measures screen pops only: the PBX emulator runs 1000× faster than real time, and a
 * ring of 2 PBX seconds had the answer's frames arrive 2 ms after the ring, inside the screen pops being measured,
 * where a caller's phone really rings for seconds. The target holds "when the bucket has room": each round runs on its own portal
 * (its own 2 req/s bucket, at the emulator and in the product's client), set up beforehand and left idle until full.
 * One-at-a-time calls are spaced so the bucket keeps room (lookup + register + finish per call). The 20-at-once
 * rounds are run twice with the same numbers: new to the lookup cache, then answered from it (issue 11).
 * A round's calls are started by one control request to the PBX emulator (`scenarios`), so "N concurrent" means N
 * rings within a few milliseconds, and the bench's own requests do not take the CPU the server is measured on.
 *
 * The measured rounds follow a warm-up on a portal of its own (WARM_UP_ROUNDS × 20 calls, not counted; the first of them
 * is reported as the cold figure). The server is started for this phase, and a process that has handled a few dozen
 * calls still runs much of the screen pop's code unoptimized: parsing one 30011 frame took 289 µs each for the first 40
 * frames after start, 20–40 µs up to a few thousand, 4 µs once the JIT had optimized it (server/pbx/yeastar/frames.ts,
 * issue 14), and the V8 threads compiling it took the cores the screen pops needed. A server in production has long
 * passed that point; the targets are about it. The warm-up ends with a full GC of the server (its own garbage, made in
 * seconds instead of hours).
 */
export interface LatencyRound {
  concurrent: number;
  rounds: number;
}

export const LATENCY_ROUNDS: LatencyRound[] = [
  { concurrent: 1, rounds: 20 },
  { concurrent: 20, rounds: 3 },
  { concurrent: 100, rounds: 1 },
];

/** Rounds of 20 calls on the warm-up portal: about 40 of its 50 requests, new numbers first, then cached ones. */
export const WARM_UP_ROUNDS = 8;

/** Seconds for a bucket of 50 drained by the install (about 20 requests) to be full again at 2 req/s, with margin. */
const REFILL_MS = 15_000;
const SPACING_MS = 600;

export async function measureScreenPop(
  b24: Bitrix24Emulator, server: ServerProcess, setUp: () => Promise<BenchPortal>, log: (line: string) => void,
): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  const numbers = knownNumbers();
  const portals: BenchPortal[][] = [];
  for (const { concurrent, rounds } of LATENCY_ROUNDS) {
    portals.push(await Promise.all(Array.from({ length: concurrent === 1 ? 1 : rounds }, () => setUp())));
  }
  const warmUpPortal = await setUp();
  await sleep(REFILL_MS);

  /** One round: `concurrent` calls ringing together on the portal, from these numbers; their pop latencies. */
  async function round(portal: BenchPortal, from: string[]): Promise<{ latencies: number[]; missing: number; cpuMicros: number; majorGcs: number; scheduling: SchedulingSample }> {
    await b24.resetRateLimit(portal.memberId);
    const gcsBefore = await server.gcs();
    const cpuBefore = await server.cpuMicros();
    const schedBefore = sampleScheduling(server.pid);
    // One control request starts them all: they ring within a few ms of each other. Started one request each, the
    // rings spread over 15–55 ms while the bench and the PBX emulator handled 20 requests on the server's two cores.
    const callIds = await portal.pbx.scenarios('inbound-answered', from.map((number) => ({
      from: number, to: '1001', talkSeconds: 5, ringSeconds: 2, record: false, holdAt: 'ringing',
    })));
    await waitRegistered(b24, portal.memberId, callIds, 90_000);
    // The server's CPU time from the first ring to the last register: its own work per screen pop, which the other
    // processes on a shared machine do not inflate the way they inflate wall time.
    const cpuMicros = await server.cpuMicros() - cpuBefore;
    const majorGcs = (await server.gcs()).major - gcsBefore.major;
    const scheduling = schedulingDelta(schedBefore, sampleScheduling(server.pid));
    const rings = await ringTimes(portal.pbx, callIds);
    const registers = registerTimes(await b24.requests({ memberId: portal.memberId }), callIds);
    const r = { ...popLatencies(rings, registers, callIds), cpuMicros, majorGcs, scheduling };
    await Promise.all(callIds.map((id) => portal.pbx.continue(id)));
    await portal.pbx.waitIdle();
    await waitOutboxDrained(server, 60_000);
    return r;
  }

  const cold: number[] = [];
  for (let w = 0; w < WARM_UP_ROUNDS; w += 1) {
    const { latencies } = await round(warmUpPortal, Array.from({ length: 20 }, (_, i) => numbers[(w * 20 + i) % numbers.length] ?? ''));
    if (w === 0) cold.push(...latencies);
  }
  // The warm-up makes in 20 s the garbage of hours of a portal's calls: collected now, once, so the measured rounds start
  // without it. They still make and collect their own: a major GC in a round (its concurrent marking took 110–150 ms of
  // server CPU beside the main thread) made the slowest rounds seen, p50 63–75 ms.
  await server.memory(true);
  await sleep(1000);
  const measuredFrom = await server.gcs();
  const c0 = distribution(cold);
  log(`screen pop ×20, first round after start: n=${c0.n} p50=${c0.p50} p99=${c0.p99}`);
  const coldRow = info('screen pop, 20 concurrent', 'p99, first round after the server started (cold)', c0.p99, 'ms',
    `${c0.n} calls, numbers new to the lookup cache; not in the rows above: ${WARM_UP_ROUNDS} rounds of 20 calls on a portal of their own warm the server up first`);

  for (const [level, { concurrent, rounds }] of LATENCY_ROUNDS.entries()) {
    const latencies: number[] = [];
    const cached: number[] = [];
    let missing = 0;
    let cpuMicros = 0;
    let cachedCpuMicros = 0;
    let cachedMajorGcs = 0;
    const cachedScheduling: SchedulingSample[] = [];
    for (let r = 0; r < rounds; r += 1) {
      const portal = portals[level]?.[concurrent === 1 ? 0 : r];
      if (!portal) throw new Error('latency portal missing');
      if (concurrent === 1 && r > 0) await sleep(SPACING_MS);
      const from = Array.from({ length: concurrent }, (_, i) => numbers[(r * concurrent + i) % numbers.length] ?? '');
      const first = await round(portal, from);
      latencies.push(...first.latencies);
      missing += first.missing;
      cpuMicros += first.cpuMicros;
      // Issue 11: a number not seen within the lookup cache's TTL is looked up in all its written forms before the
      // register. The same 20 numbers ringing again on the portal a few seconds later are answered from the cache:
      // that round shows the product's own overhead, which the ≤ 50 ms target was always about.
      if (concurrent === 20) {
        const again = await round(portal, from);
        cached.push(...again.latencies);
        missing += again.missing;
        cachedCpuMicros += again.cpuMicros;
        cachedMajorGcs += again.majorGcs;
        cachedScheduling.push(again.scheduling);
        // Per round, so a slow run shows whether one round or all of them were slow, and what the machine did then.
        const s = again.scheduling;
        log(`  round ${r + 1}: new numbers max ${Math.max(...first.latencies)} ms; cached max ${Math.max(...again.latencies)} ms, p50 ${distribution(again.latencies).p50} ms, server CPU ${Math.round(again.cpuMicros / 1000)} ms, major GCs ${again.majorGcs}, main thread ran ${s.mainRunMs.toFixed(1)} / waited ${s.mainWaitMs.toFixed(1)} ms, steal ${s.stealMs.toFixed(0)} ms`);
      }
    }
    const d = distribution(latencies);
    log(`screen pop ×${concurrent}: n=${d.n} p50=${d.p50} p95=${d.p95} p99=${d.p99} max=${d.max} missing=${missing}`);
    const section = `screen pop, ${concurrent} concurrent`;
    const note = `${d.n} calls${rounds > 1 ? ` in ${rounds} rounds` : ''}${missing ? `, ${missing} never popped` : ''}`;
    rows.push(info(section, 'p50', d.p50, 'ms'), info(section, 'p95', d.p95, 'ms'));
    const perPop = (micros: number, pops: number): number => Math.round(micros / Math.max(1, pops));
    rows.push(info(section, `server CPU per screen pop${concurrent === 20 ? ', numbers new to the lookup cache' : ''}`, perPop(cpuMicros, d.n), 'µs',
      'user + system time of the server process from the first ring to the last register, ÷ pops'));
    if (concurrent !== 20) {
      rows.push(info(section, 'p99', d.p99, 'ms', note));
      continue;
    }
    rows.push(info(section, 'p99, numbers new to the lookup cache', d.p99, 'ms', `${note}; one CRM lookup round trip before each register`));
    const c = distribution(cached);
    log(`screen pop ×20, numbers in the lookup cache: n=${c.n} p50=${c.p50} p95=${c.p95} p99=${c.p99} max=${c.max}`);
    rows.push(atMost(section, 'p99, numbers in the lookup cache', c.p99, 'ms', 50, `${c.n} calls, the same numbers again; p50 ${c.p50}, p95 ${c.p95}`));
    rows.push(info(section, 'server CPU per screen pop, numbers in the lookup cache', perPop(cachedCpuMicros, c.n), 'µs'));
    const measuredMajorGcs = (await server.gcs()).major - measuredFrom.major;
    rows.push(info(section, 'major GCs during the cached rounds', cachedMajorGcs, 'GCs',
      `mark-compacts that ended between a round's first ring and the bench seeing its last register; ${measuredMajorGcs} from the end of the warm-up to here`));
    // What the machine did to the cached rounds: a slow run with a large wait or steal was slowed by the machine, not the server.
    const worst = (pick: (s: SchedulingSample) => number): number => Math.round(Math.max(...cachedScheduling.map(pick)) * 10) / 10;
    rows.push(info(section, 'server main thread waiting for a core, numbers in the lookup cache', worst((s) => s.mainWaitMs), 'ms',
      `worst round; runnable but not running, from the round's start until the bench saw every register (polled every 200 ms); its CPU in that time up to ${worst((s) => s.mainRunMs)} ms`));
    rows.push(info(section, 'CPU steal of the machine, numbers in the lookup cache', worst((s) => s.stealMs), 'ms',
      'worst round, all cores (/proc/stat)'));
    rows.push(coldRow);
  }
  return rows;
}
