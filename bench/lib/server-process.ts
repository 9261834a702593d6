import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePort, loopbackServerEnv, REPO_ROOT, spawnServer } from '../../test/support/spawn-server.js';
import type { ProbeGc, ProbeMemory, ProbeQuestion } from './probe.js';
import { parseMetrics } from './stats.js';

/**
 * The product as operators run it: `server/main.ts` in its own Node process (so its memory and event loop are its
 * own, read from /metrics), configured only through the environment, on loopback, with a temporary DATA_DIR.
 */
export interface ServerProcess {
  url: string;
  /** The server's process id (bench/lib/scheduling.ts reads its threads). */
  pid: number;
  dataDir: string;
  logFile: string;
  metrics(): Promise<Map<string, number>>;
  /** process.memoryUsage() of the server and its RSS high-water mark (bench/lib/probe.ts). */
  memory(gc?: boolean): Promise<ProbeMemory>;
  /** CPU time the server process used so far, µs (user + system). */
  cpuMicros(): Promise<number>;
  /** The server's garbage collections so far. */
  gcs(): Promise<ProbeGc>;
  /** Writes a V8 heap snapshot of the server to `file` (blocks the server while it runs: only between measurements). */
  heapSnapshot(file: string): Promise<string>;
  stop(): Promise<void>;
}

export interface ServerProcessOptions {
  /** BENCH_CPU_PROF: a folder for the server's V8 CPU profile (`--cpu-prof`), written when it stops. */
  cpuProfileDir?: string;
}

export async function startServerProcess(env: Record<string, string> = {}, opts: ServerProcessOptions = {}): Promise<ServerProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pbxb24-bench-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logFile = join(dataDir, 'server.log');
  // /metrics is served only with the operator's token (METRICS_TOKEN), as in production.
  const metricsToken = randomBytes(24).toString('hex');
  const log = createWriteStream(logFile);
  const probe = pathToFileURL(join(REPO_ROOT, 'bench', 'lib', 'probe.ts')).href;
  const profile = opts.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfileDir}`] : [];
  const child = spawnServer({
    ...loopbackServerEnv(join(dataDir, 'data'), port),
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn', PBX_ALLOW_LOOPBACK: '1',
    METRICS_TOKEN: metricsToken,
    ...env,
  }, {
    nodeArgs: ['--expose-gc', ...profile],
    preload: [probe],
    // fd 3: the IPC channel of bench/lib/probe.ts.
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let nextId = 1;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  child.on('message', (msg: unknown) => {
    const reply = msg as { id?: number; ok?: boolean; value?: unknown; error?: string };
    if (typeof reply.id !== 'number') return;
    const w = waiting.get(reply.id);
    waiting.delete(reply.id);
    if (reply.ok) w?.resolve(reply.value);
    else w?.reject(new Error(`probe: ${reply.error ?? 'failed'}`));
  });
  const ask = (req: ProbeQuestion): Promise<unknown> => new Promise((resolve, reject) => {
    const id = nextId;
    nextId += 1;
    waiting.set(id, { resolve, reject });
    child.send({ ...req, id }, (err) => {
      if (err) {
        waiting.delete(id);
        reject(err);
      }
    });
  });

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited (${child.exitCode}) at start; see ${logFile}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server not up within 30 s; see ${logFile}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    url, pid: child.pid ?? 0, dataDir, logFile,
    metrics: async () => parseMetrics(await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } })).text()),
    memory: async (gc = false) => await ask({ kind: 'memory', gc }) as ProbeMemory,
    cpuMicros: async () => {
      const c = await ask({ kind: 'cpu' }) as { userMicros: number; systemMicros: number };
      return c.userMicros + c.systemMicros;
    },
    gcs: async () => await ask({ kind: 'gc' }) as ProbeGc,
    heapSnapshot: async (file) => (await ask({ kind: 'snapshot', file }) as { file: string }).file,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(force);
      }
      log.end();
      if (process.env.BENCH_KEEP_DATA !== '1') await rm(dataDir, { recursive: true, force: true });
    },
  };
}
