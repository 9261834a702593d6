import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET } from '../emulators/bitrix24/harness.js';

/**
 * The product started the way the tests and the bench both need it: on a free loopback port known before it listens,
 * with the Bitrix24 emulator's app credentials, and — for a process of its own — `server/main.ts` as `npm start` runs it.
 * One place, so the integration tests (test/integration/foundation/server-under-test.ts) and the bench
 * (bench/lib/server-process.ts) cannot drift apart in how a server under test is set up.
 */

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SERVER_MAIN = join(REPO_ROOT, 'server', 'main.ts');

/** A free loopback port, so PUBLIC_URL is known before the server listens (Bitrix24 needs it at install). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/**
 * The environment of a server on loopback at `port` with its data in `dataDir`, trusting the Bitrix24 emulator's app
 * (its client id and secret) and its loopback portals (B24_ALLOW_LOOPBACK; the address policy refuses them otherwise).
 */
export function loopbackServerEnv(dataDir: string, port: number): Record<string, string> {
  return {
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    DATA_DIR: dataDir,
    B24_CLIENT_ID: DEFAULT_CLIENT_ID,
    B24_CLIENT_SECRET: DEFAULT_CLIENT_SECRET,
    B24_ALLOW_LOOPBACK: '1',
  };
}

export interface SpawnServerOptions {
  /** Node flags before the modules (`--expose-gc`, `--cpu-prof`). */
  nodeArgs?: string[];
  /** Modules loaded before server/main.ts, after tsx (the bench's probe). */
  preload?: string[];
  /** Default: stdout and stderr piped, stdin ignored. */
  stdio?: StdioOptions;
}

/**
 * The node flags `npm start` gives the server (package.json `scripts.start`: `tsx <flags> server/main.ts`), read from
 * there so a server under test runs with the production runtime settings and the two cannot drift apart.
 */
export function startNodeFlags(startScript: string): string[] {
  const launch = /(?:^|&&)\s*tsx\s+((?:--\S+\s+)*)server\/main\.ts\s*$/.exec(startScript);
  if (!launch) throw new Error(`package.json scripts.start does not end in "tsx [flags] server/main.ts": ${startScript}`);
  return (launch[1] ?? '').split(/\s+/).filter((flag) => flag !== '');
}

const PACKAGE = createRequire(import.meta.url)('../../package.json') as { scripts: { start: string } };
export const SERVER_NODE_FLAGS = startNodeFlags(PACKAGE.scripts.start);

/** `npm start` as a child process: server/main.ts under tsx in the repo root, `env` over this process's environment. */
export function spawnServer(env: Record<string, string>, opts: SpawnServerOptions = {}): ChildProcess {
  // Resolved here rather than by name, so the loader is found whatever folder the caller runs from.
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const imports = [tsx, ...(opts.preload ?? [])].flatMap((module) => ['--import', module]);
  return spawn(process.execPath, [...SERVER_NODE_FLAGS, ...(opts.nodeArgs ?? []), ...imports, SERVER_MAIN], {
    cwd: REPO_ROOT,
    stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
}
