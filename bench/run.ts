/**
 * `npm run bench`: the product at the limit (issue 7, "Benchmark"). Runs the real server (server/main.ts, its own
 * process) against the Bitrix24 emulator (2 req/s, burst 50 per portal) and the Yeastar emulator, prints ONE table with
 * the date and machine, and writes it to bench/results.json. Not part of `npm test`.
 *
 * Env: BENCH_ONLY=assets,events,history,latency,requests,sustained,routing,tenants,tenants1000,postgres,cluster (default all); BENCH_RUNS
 * (default 3): runs of each latency and memory phase, the table shows the worst run and the spread and judges the target
 * on the worst (bench/lib/runs.ts); BENCH_SECONDS (default 60) for the sustained and many-tenant runs; BENCH_TENANTS
 * (default 200); BENCH_LOG_LEVEL for the server (default warn); BENCH_HEAP_DIR: heap snapshots of the many-tenant
 * servers go there (read them with `npx tsx bench/heap-summary.ts a.heapsnapshot b.heapsnapshot`); BENCH_CPU_PROF: a
 * folder for the latency servers' V8 CPU profiles; BENCH_CLUSTER_PORTALS (default 1000): portals of the two-instance
 * PostgreSQL phase. A partial run merges its phases into results.json.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { startBitrix24Emulator, type Bitrix24Emulator } from '../test/emulators/bitrix24/harness.js';
import { startYeastarEmulators, type YeastarEmulatorFleet } from '../test/emulators/yeastar/harness.js';
import { knownNumbers } from './lib/calls.js';
import { describeMachine, machineInfo } from './lib/machine.js';
import { setUpPortal, type BenchPortal } from './lib/portal.js';
import { startServerProcess, type ServerProcess } from './lib/server-process.js';
import { combineRuns, mergePhases, previousPhases, type PhaseResult } from './lib/runs.js';
import { renderMarkdown, renderTable, type ResultRow } from './lib/stats.js';
import { measureAssets } from './phases/assets.js';
import { measureCluster } from './phases/cluster.js';
import { measureEvents } from './phases/events.js';
import { measureHistory } from './phases/history.js';
import { measurePostgres } from './phases/postgres.js';
import { measureScreenPop } from './phases/latency.js';
import { measureRequestsPerCall } from './phases/requests-per-call.js';
import { measureRoutingDelay } from './phases/routing.js';
import { measureSustained } from './phases/sustained.js';
import { measureTenants } from './phases/tenants.js';

const PHASES = ['assets', 'events', 'history', 'latency', 'requests', 'sustained', 'routing', 'tenants', 'tenants1000', 'postgres', 'cluster'] as const;
type Phase = (typeof PHASES)[number];
/** Latency and memory phases: a single run of them on this machine is a sample, not a figure. */
const REPEATED: ReadonlySet<Phase> = new Set(['history', 'latency', 'sustained', 'routing', 'tenants', 'tenants1000', 'cluster']);
const only = new Set((process.env.BENCH_ONLY ?? PHASES.join(',')).split(',').map((s) => s.trim()));
const unknown = [...only].filter((p) => !(PHASES as readonly string[]).includes(p));
if (unknown.length > 0) throw new Error(`BENCH_ONLY: unknown phase(s) ${unknown.join(', ')}; known: ${PHASES.join(', ')}`);
const seconds = Number(process.env.BENCH_SECONDS ?? 60);
const tenants = Number(process.env.BENCH_TENANTS ?? 200);
const runsPerPhase = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
const heapDir = process.env.BENCH_HEAP_DIR;
const cpuProfileDir = process.env.BENCH_CPU_PROF;
const RESULTS = fileURLToPath(new URL('./results.json', import.meta.url));

const benchStarted = Date.now();
const log = (line: string): void => {
  process.stderr.write(`[bench +${((Date.now() - benchStarted) / 1000).toFixed(0)}s] ${line}\n`);
};

interface Stack {
  b24: Bitrix24Emulator;
  fleet: YeastarEmulatorFleet;
  server: ServerProcess;
}

/** Emulators and a fresh server for one run of a phase, stopped whatever happens. */
async function withStack<T>(pbxCount: number, work: (s: Stack) => Promise<T>, profile = false): Promise<T> {
  const [b24, fleet] = await Promise.all([startBitrix24Emulator({ rateLimit: true }), startYeastarEmulators(pbxCount, { speed: 1000 })]);
  let server: ServerProcess | undefined;
  try {
    // The product confirms every install with the OAuth server it trusts: the emulator's (its server_endpoint).
    server = await startServerProcess({ B24_OAUTH_SERVER: `${b24.oauthUrl}/rest/` }, profile && cpuProfileDir ? { cpuProfileDir } : {});
    return await work({ b24, fleet, server });
  } catch (err) {
    if (server) log(`server log: ${server.logFile} (set BENCH_KEEP_DATA=1 to keep it)`);
    throw err;
  } finally {
    await server?.stop();
    await Promise.all([b24.stop(), fleet.stop()]);
  }
}

/** A portal set up on the next free PBX of the fleet. */
function portalMaker({ b24, fleet, server }: Stack): (autoCreate?: boolean) => Promise<BenchPortal> {
  const free = [...fleet.pbxes];
  // Auto-create is on only where the unknown-number calls are counted: with it off the product registers at
  // once and lets Bitrix24 find the CRM record (register answers CRM_ENTITY_TYPE/ID), with it on it must look
  // the number up first to know whether to create.
  return async (autoCreate = false) => {
    const pbx = free.shift();
    if (!pbx) throw new Error('no PBX left in the fleet');
    return setUpPortal(b24, server.url, pbx, { autoCreate, knownNumbers: knownNumbers() });
  };
}

/** One run of each phase: its rows. Every server phase gets its own emulators and server, so runs do not share state. */
const PHASE_RUNS: Record<Phase, () => Promise<ResultRow[]>> = {
  assets: () => Promise.resolve(measureAssets(log)),
  events: () => measureEvents(log),
  history: () => measureHistory(log),
  // Issue 14: persisting a call event with 100,000 calls stored, on a throwaway PostgreSQL cluster.
  postgres: () => measurePostgres(log),
  // Every portal needs its own PBX (a PBX link delivers its calls to its portal only): 5 for the latency rounds, 1 to warm up.
  latency: () => withStack(6, (s) => measureScreenPop(s.b24, s.server, portalMaker(s), log), true),
  requests: () => withStack(2, async (s) => {
    const setUp = portalMaker(s);
    return measureRequestsPerCall(s.b24, s.server, await setUp(), await setUp(true), log);
  }),
  sustained: () => withStack(1, async (s) => measureSustained(s.b24, s.server, await portalMaker(s)(), log, seconds)),
  routing: () => withStack(1, async ({ b24, fleet, server }) => {
    const [pbx] = fleet.pbxes;
    if (!pbx) throw new Error('no PBX in the fleet');
    return measureRoutingDelay(b24, server, await setUpPortal(b24, server.url, pbx, { autoCreate: false, knownNumbers: [] }), log);
  }),
  tenants: () => withStack(tenants, ({ b24, fleet, server }) => measureTenants(b24, server, fleet.pbxes, log, {
    seconds, periodMs: 10_000, rssLimitMb: 300, label: `tenants-${tenants}`, ...(heapDir ? { heapSnapshotDir: heapDir } : {}),
  })),
  // Issue 14: 1,000 portals in one instance within 500 MB. One call per portal in the minute (17 calls/s in all): the
  // figure is the memory a thousand linked tenants hold, not a call rate the 200-portal phase already covers.
  tenants1000: () => withStack(1000, ({ b24, fleet, server }) => measureTenants(b24, server, fleet.pbxes, log, {
    seconds, periodMs: Math.max(60_000, seconds * 1000), rssLimitMb: 500, label: 'tenants-1000', ...(heapDir ? { heapSnapshotDir: heapDir } : {}),
  })),
  // Issue 14: 1,000 portals across two instances on one PostgreSQL; one call per portal in the minute.
  cluster: () => measureCluster(log, { portals: Number(process.env.BENCH_CLUSTER_PORTALS ?? 1000), seconds: Math.max(60, seconds) }),
};

async function main(): Promise<void> {
  const machine = machineInfo();
  log(`machine: ${describeMachine(machine)}; ${runsPerPhase} run(s) of ${[...REPEATED].join(', ')}`);
  if (heapDir) await mkdir(heapDir, { recursive: true });
  if (cpuProfileDir) await mkdir(cpuProfileDir, { recursive: true });
  const fresh: Record<string, PhaseResult> = {};
  for (const phase of PHASES) {
    if (!only.has(phase)) continue;
    const runs: ResultRow[][] = [];
    const failures: string[] = [];
    const count = REPEATED.has(phase) ? runsPerPhase : 1;
    for (let i = 0; i < count; i += 1) {
      const t0 = Date.now();
      try {
        runs.push(await PHASE_RUNS[phase]());
      } catch (err) {
        // A failed run is a missed run: its figures are absent, and combineRuns counts an absent figure as a miss.
        runs.push([]);
        failures.push(`${phase} run ${i + 1}: ${err instanceof Error ? err.message : String(err)}`);
        log(`${phase} run ${i + 1} FAILED: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      }
      log(`${phase} run ${i + 1}/${count} took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    }
    // A phase measured once (a count, a size, a throughput) shows no spread.
    const rows = combineRuns(runs).map((r) => (count > 1 ? r : { ...r, spread: '' }));
    fresh[phase] = { date: new Date().toISOString(), runs, rows, failures };
  }

  let previous: Record<string, PhaseResult> = {};
  try {
    previous = previousPhases(JSON.parse(await readFile(RESULTS, 'utf8')));
  } catch {
    // no results yet, or unreadable: start afresh
  }
  const phases = mergePhases(previous, fresh, PHASES);
  const rows = Object.values(phases).flatMap((p) => p.rows.map((r) => (r.spread === '' ? { ...r, spread: undefined } : r)));
  const failures = Object.values(phases).flatMap((p) => p.failures);
  const freshFailures = Object.values(fresh).flatMap((p) => p.failures);
  const table = renderTable(rows);
  const header = `PBX connector benchmark — ${describeMachine(machine)}; value = worst of ${runsPerPhase} runs for repeated phases`;
  process.stdout.write(`\n${header}\n\n${table}\n${failures.length ? `\nFAILED PHASES:\n${failures.join('\n')}\n` : ''}\n`);
  const results = {
    machine, durationSeconds: Math.round((Date.now() - benchStarted) / 1000), settings: { seconds, tenants, runs: runsPerPhase },
    phasesRunNow: Object.keys(fresh), rows, failures, markdown: renderMarkdown(rows), phases,
  };
  await writeFile(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  if (freshFailures.length > 0) process.exitCode = 1;
}

await main();
