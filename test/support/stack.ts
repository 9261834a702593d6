import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../../server/config.js';
import type { RunningServer, StartOptions } from '../../server/index.js';
import { startBitrix24Emulator, type Bitrix24Emulator, type PortalInfo, type StartOptions as B24Options } from '../emulators/bitrix24/harness.js';
import { startYeastarEmulator, type YeastarEmulator } from '../emulators/yeastar/harness.js';
import { eventually, freePort, tempDataDir, testConfig } from '../integration/foundation/server-under-test.js';
import { captureLogs, type LogCapture } from './log-capture.js';
import { startProduct } from './product-options.js';

/**
 * Both emulators and the real product, driven only through the doors a customer's systems use: Bitrix24 installs
 * the app and sends events, the admin saves settings through /api, the PBX places calls. The server runs in this
 * process (`inProcess`) or as a child process that a test may SIGKILL (`child`). Every /api answer and every log
 * line is kept for the secret scan.
 */

export interface Tenant {
  info: PortalInfo;
  memberId: string;
  adminId: number;
  agentId: number;
  adminToken: string;
  agentToken: string;
}

export interface ApiAnswer {
  status: number;
  body: unknown;
  text: string;
}

export interface StackOptions {
  b24?: B24Options;
  /** Yeastar scenario speed (1000: a PBX second lasts 1 ms). */
  pbxSpeed?: number;
  /** Where the server runs. */
  mode?: 'inProcess' | 'child';
  env?: Record<string, string>;
  /** Use this DATA_DIR (e.g. a size-limited tmpfs) instead of a fresh temp dir; it is left in place at close. */
  dataDir?: string;
  /** startServer overrides for the in-process server (e.g. the outbox backoff). */
  start?: Partial<StartOptions>;
}

export interface Stack {
  b24: Bitrix24Emulator;
  pbx: YeastarEmulator;
  dataDir: string;
  config: Config;
  /** Base URL of the product. */
  url(): string;
  /** The running server (in-process mode only). */
  server(): RunningServer;
  /** Log text of every server run so far (child runs included). */
  logs(): Promise<string>;
  /** Every /api and event answer body received through this stack. */
  answers: string[];
  /** `pbxUrl`: the PBX address the admin saves (default the emulator's; e.g. a proxy in front of it). */
  addTenant(opts?: { pbx?: 'websocket' | 'webhook' | 'none'; extension?: string; pbxUrl?: string }): Promise<Tenant>;
  api(tenant: Tenant, as: 'admin' | 'agent', method: string, path: string, body?: unknown): Promise<ApiAnswer>;
  /** Graceful stop (child: stdin closed; in-process: close()). */
  stopServer(): Promise<void>;
  killServer(): Promise<void>;
  startServer(): Promise<void>;
  close(): Promise<void>;
}

const CHILD = join(import.meta.dirname, 'server-process.ts');

/**
 * One /api request to the product at `baseUrl` as the tenant's admin or agent would send it from the app's frame; the
 * body is parsed when it is JSON and kept as text otherwise (a recording).
 */
export async function callApiAs(baseUrl: string, tenant: Tenant, as: 'admin' | 'agent', method: string, path: string, body?: unknown): Promise<ApiAnswer> {
  const res = await fetch(`${baseUrl}/api${path}`, {
    method,
    headers: {
      authorization: `Bearer ${as === 'admin' ? tenant.adminToken : tenant.agentToken}`,
      'x-member-id': tenant.memberId,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: keep the text.
  }
  return { status: res.status, body: parsed, text };
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const [b24, pbx] = await Promise.all([
    startBitrix24Emulator({ rateLimit: false, ...opts.b24 }),
    startYeastarEmulator({ speed: opts.pbxSpeed ?? 1000 }),
  ]);
  const data = opts.dataDir ? { dir: opts.dataDir, remove: async () => undefined } : await tempDataDir();
  const port = await freePort();
  // The emulator is the trusted OAuth server and lives on loopback: a product that checks installs against its
  // configured OAuth server and refuses loopback portal addresses must be told so, exactly as an operator would.
  const env = { PBX_ALLOW_LOOPBACK: '1', B24_ALLOW_LOOPBACK: '1', B24_OAUTH_SERVER: `${b24.url}/rest/`, LOG_LEVEL: 'debug', ...opts.env };
  const config = testConfig(data.dir, port, env);
  const mode = opts.mode ?? 'inProcess';
  const captures: LogCapture[] = [];
  const childLogs: string[] = [];
  let running: RunningServer | undefined;
  let child: ChildProcess | undefined;
  const answers: string[] = [];

  async function startServerNow(): Promise<void> {
    if (mode === 'inProcess') {
      const capture = captureLogs();
      captures.push(capture);
      running = await startProduct(config, capture.log, opts.start);
      return;
    }
    const logFile = join(data.dir, `..`, `${port}-run-${childLogs.length}.log`);
    childLogs.push(logFile);
    const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, data.dir, String(port), logFile, JSON.stringify(env)], { stdio: ['pipe', 'pipe', 'inherit'] });
    child = proc;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      // A cap, not a measure: the child compiles the server with tsx first, which took over 30 s on a loaded 2-core machine.
      const timer = setTimeout(() => reject(new Error('the server process did not start in 80 s')), 80_000);
      const early = (code: number | null) => { clearTimeout(timer); reject(new Error(`the server process exited early (${String(code)})`)); };
      proc.once('exit', early);
      proc.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (!out.includes('ready ')) return;
        clearTimeout(timer);
        proc.off('exit', early);
        resolve();
      });
    });
  }

  async function stopChild(kind: 'graceful' | 'SIGKILL'): Promise<void> {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    if (kind === 'SIGKILL') proc.kill('SIGKILL');
    else proc.stdin?.end();
    const guard = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(guard);
  }

  try {
    await startServerNow();
  } catch (err) {
    // Never leave the emulators running when the stack could not come up.
    await Promise.allSettled([b24.stop(), pbx.stop()]);
    throw err;
  }
  const url = () => (mode === 'inProcess' ? running?.url ?? '' : config.publicUrl);

  const api: Stack['api'] = async (tenant, as, method, path, body) => {
    const answer = await callApiAs(url(), tenant, as, method, path, body);
    answers.push(answer.text);
    return answer;
  };

  let extensionSeq = 0;
  const addTenant: Stack['addTenant'] = async (tenantOpts = {}) => {
    const info = await b24.createPortal();
    const adminId = (await b24.addUser(info.memberId, { name: 'Ann', lastName: 'Admin', email: `ann-${info.memberId}@example.com`, admin: true })).id;
    const agentId = (await b24.addUser(info.memberId, { name: 'Anna', lastName: 'Agent', email: `anna-${info.memberId}@example.com` })).id;
    const installed = await b24.install(info.memberId, { appUrl: url() });
    if (installed.installerPage.status !== 200) throw new Error(`install answered ${installed.installerPage.status}`);
    await b24.finishInstall(info.memberId);
    const tenant: Tenant = {
      info, memberId: info.memberId, adminId, agentId,
      adminToken: (await b24.frameToken(info.memberId, adminId)).accessToken,
      agentToken: (await b24.frameToken(info.memberId, agentId)).accessToken,
    };
    await eventually(async () => (await api(tenant, 'admin', 'GET', '/status')).status === 200, 10_000);
    const events = tenantOpts.pbx ?? 'websocket';
    if (events === 'none') return tenant;
    extensionSeq += 1;
    const saved = await api(tenant, 'admin', 'PUT', '/settings', {
      enabled: true, defaultCountry: 'US',
      pbx: { baseUrl: tenantOpts.pbxUrl ?? pbx.url, clientId: pbx.clientId, clientSecret: pbx.clientSecret, events, ...(events === 'webhook' ? { webhookSecret: `whsec-${info.memberId}-${extensionSeq}-x9` } : {}) },
    });
    if (saved.status !== 200) throw new Error(`settings refused: ${saved.text}`);
    if (events === 'websocket') {
      await eventually(async () => {
        const status = await api(tenant, 'admin', 'GET', '/status');
        return (status.body as { pbx?: { state?: string } }).pbx?.state === 'connected';
      }, 15_000, 100);
    }
    const bound = await api(tenant, 'admin', 'PUT', '/bindings', { bindings: [{ userId: agentId, extension: tenantOpts.extension ?? '1001' }] });
    if (bound.status !== 200) throw new Error(`bindings refused: ${bound.text}`);
    return tenant;
  };

  return {
    b24, pbx, dataDir: data.dir, config, answers, url, api, addTenant,
    server() {
      if (!running) throw new Error('no in-process server running');
      return running;
    },
    async logs() {
      const texts = captures.map((c) => c.text());
      for (const file of childLogs) texts.push(await readFile(file, 'utf8').catch(() => ''));
      return texts.join('\n');
    },
    async stopServer() {
      if (mode === 'inProcess') {
        await running?.close();
        running = undefined;
      } else {
        await stopChild('graceful');
      }
    },
    async killServer() {
      if (mode !== 'child') throw new Error('only a child server can be SIGKILLed');
      await stopChild('SIGKILL');
    },
    startServer: startServerNow,
    async close() {
      if (mode === 'inProcess') await running?.close();
      else await stopChild('SIGKILL');
      await Promise.all([b24.stop(), pbx.stop()]);
      await data.remove();
      const { rm } = await import('node:fs/promises');
      // KEEP_TEST_LOGS=1 keeps the child servers' logs for a post-mortem.
      if (process.env.KEEP_TEST_LOGS) process.stderr.write(`server logs kept: ${childLogs.join(' ')}\n`);
      else for (const file of childLogs) await rm(file, { force: true });
    },
  };
}
