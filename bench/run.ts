/**
 * `npm run bench`: the product at the limit (issue 7, "Benchmark"). Runs the real server (server/main.ts, its own
 * process) against the Bitrix24 emulator (2 req/s, burst 50 per portal) and the Yeastar emulator, prints ONE table with
 * the date and machine, and writes it to bench/results.json. Not part of `npm test`.
 *
 * Env: BENCH_ONLY=assets,events,history,latency,requests,sustained,tenants,routing (default all); BENCH_SECONDS (default 60) for the
 * sustained and many-tenant runs; BENCH_TENANTS (default 200); BENCH_LOG_LEVEL for the server (default warn).
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { startBitrix24Emulator, type Bitrix24Emulator } from '../test/emulators/bitrix24/harness.js';
import { startYeastarEmulators, type YeastarEmulatorFleet } from '../test/emulators/yeastar/harness.js';
import { knownNumbers } from './lib/calls.js';
import { describeMachine, machineInfo } from './lib/machine.js';
import { setUpPortal } from './lib/portal.js';
import { startServerProcess, type ServerProcess } from './lib/server-process.js';
import { renderMarkdown, renderTable, type ResultRow } from './lib/stats.js';
import { measureAssets } from './phases/assets.js';
import { measureEvents } from './phases/events.js';
import { measureHistory } from './phases/history.js';
import { measurePostgres } from './phases/postgres.js';
import { measureScreenPop } from './phases/latency.js';
import { measureRequestsPerCall } from './phases/requests-per-call.js';
import { measureRoutingDelay } from './phases/routing.js';
import { measureSustained } from './phases/sustained.js';
import { measureTenants } from './phases/tenants.js';

const PHASES = ['assets', 'events', 'history', 'latency', 'requests', 'sustained', 'tenants', 'routing', 'postgres'] as const;
type Phase = (typeof PHASES)[number];
const only = new Set((process.env.BENCH_ONLY ?? PHASES.join(',')).split(',').map((s) => s.trim()));
const wants = (p: Phase): boolean => only.has(p);
const seconds = Number(process.env.BENCH_SECONDS ?? 60);
const tenants = Number(process.env.BENCH_TENANTS ?? 200);

const benchStarted = Date.now();
const log = (line: string): void => {
  process.stderr.write(`[bench +${((Date.now() - benchStarted) / 1000).toFixed(0)}s] ${line}\n`);
};

/** Emulators and server started for a phase, stopped whatever happens. */
async function withStack<T>(pbxCount: number, work: (s: { b24: Bitrix24Emulator; fleet: YeastarEmulatorFleet; server: ServerProcess }) => Promise<T>): Promise<T> {
  const [b24, fleet] = await Promise.all([startBitrix24Emulator({ rateLimit: true }), startYeastarEmulators(pbxCount, { speed: 1000 })]);
  let server: ServerProcess | undefined;
  try {
    // The product confirms every install with the OAuth server it trusts: the emulator's (its server_endpoint).
    server = await startServerProcess({ B24_OAUTH_SERVER: `${b24.oauthUrl}/rest/` });
    return await work({ b24, fleet, server });
  } catch (err) {
    if (server) log(`server log: ${server.logFile} (set BENCH_KEEP_DATA=1 to keep it)`);
    throw err;
  } finally {
    await server?.stop();
    await Promise.all([b24.stop(), fleet.stop()]);
  }
}

async function main(): Promise<void> {
  const machine = machineInfo();
  log(`machine: ${describeMachine(machine)}`);
  const rows: ResultRow[] = [];
  const failures: string[] = [];
  const run = async (name: string, phase: () => Promise<ResultRow[]>): Promise<void> => {
    const t0 = Date.now();
    try {
      rows.push(...await phase());
    } catch (err) {
      failures.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
      log(`${name} FAILED: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    }
    log(`${name} took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  };

  if (wants('assets')) await run('assets', () => Promise.resolve(measureAssets(log)));
  if (wants('events')) await run('events', () => measureEvents(log));
  if (wants('history')) await run('history', () => measureHistory(log));
  if (wants('postgres')) await run('postgres', () => measurePostgres(log));
  if (wants('latency') || wants('requests') || wants('sustained')) {
    // Every portal needs its own PBX (a PBX link delivers its calls to its portal only): 5 for the latency rounds.
    await run('one-portal runs', () => withStack(9, async ({ b24, fleet, server }) => {
      const free = [...fleet.pbxes];
      // Auto-create is on only where the unknown-number calls are counted: with it off the product registers at
      // once and lets Bitrix24 find the CRM record (register answers CRM_ENTITY_TYPE/ID), with it on it must look
      // the number up first to know whether to create.
      const setUp = async (autoCreate = false) => {
        const pbx = free.shift();
        if (!pbx) throw new Error('no PBX left in the fleet');
        return setUpPortal(b24, server.url, pbx, { autoCreate, knownNumbers: knownNumbers() });
      };
      const out: ResultRow[] = [];
      if (wants('latency')) out.push(...await measureScreenPop(b24, server, () => setUp(), log));
      if (wants('requests')) out.push(...await measureRequestsPerCall(b24, server, await setUp(), await setUp(true), log));
      if (wants('sustained')) out.push(...await measureSustained(b24, server, await setUp(), log, seconds));
      return out;
    }));
  }
  if (wants('routing')) {
    await run('routing', () => withStack(1, async ({ b24, fleet, server }) => {
      const [pbx] = fleet.pbxes;
      if (!pbx) throw new Error('no PBX in the fleet');
      return measureRoutingDelay(b24, server, await setUpPortal(b24, server.url, pbx, { autoCreate: false, knownNumbers: [] }), log);
    }));
  }
  if (wants('tenants')) {
    await run('many tenants', () => withStack(tenants, ({ b24, fleet, server }) => measureTenants(b24, server, fleet.pbxes, log, seconds)));
  }

  const table = renderTable(rows);
  const header = `PBX connector benchmark — ${describeMachine(machine)}`;
  process.stdout.write(`\n${header}\n\n${table}\n${failures.length ? `\nFAILED PHASES:\n${failures.join('\n')}\n` : ''}\n`);
  const results = {
    machine, durationSeconds: Math.round((Date.now() - benchStarted) / 1000), settings: { seconds, tenants },
    rows, failures, markdown: renderMarkdown(rows),
  };
  await writeFile(fileURLToPath(new URL('./results.json', import.meta.url)), `${JSON.stringify(results, null, 2)}\n`);
  if (failures.length > 0) process.exitCode = 1;
}

await main();
