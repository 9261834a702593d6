import { spawn, type ChildProcess } from 'node:child_process';
import { stopChild } from '../stop-child.js';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CdrRow, CompanyContact, Extension, Phonebook, Recording } from './state.js';
import type { DecisionRecord } from './inbound-control.js';
import type {
  BurstOptions, BurstResult, DialBehavior, EmittedEvent, EventFormat, ExtensionInput, Fault, RecordedRequest,
  ScenarioName, ScenarioOptions, ScenarioResult, SocketInfo, TokenStats, WebhookConfig, WebhookDelivery,
} from './types.js';

/**
 * Starts the Yeastar P-Series emulator as a child process and drives it through its control API (/_emulator/*).
 *
 *   const pbx = await startYeastarEmulator();
 *   const { callId } = await pbx.scenario('inbound-answered', { from: '+15550123456', to: '1001' });
 *   await pbx.stop();
 */

export interface StartYeastarOptions {
  clientId?: string;
  clientSecret?: string;
  accessTokenTtlSec?: number;
  refreshTokenTtlSec?: number;
  tokenCap?: number;
  sn?: string;
  /** WebSocket idle drop (PBX: 60 000 ms). */
  wsIdleTimeoutMs?: number;
  authFailuresBeforeBlock?: number;
  /** Default scenario speed (1000: a PBX second lasts 1 ms; 1: real time). */
  speed?: number;
  /** Fixed port (default: a free one). */
  port?: number;
}

/** A recording as the control channel reports it: where the WAV sits on disk stays inside the emulator's process. */
export type RecordingInfo = Omit<Recording, 'path'>;

export type PhonebookInfo = Phonebook & { contactIds: number[] };

export interface LiveCalls {
  calls: { call_id: string; members: unknown[] }[];
  held: string[];
}

export interface YeastarEmulator {
  /** Base URL of the PBX, e.g. http://127.0.0.1:41234 (REST under /openapi/v1.0/, WebSocket /openapi/v1.0/subscribe). */
  readonly url: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly sn: string;
  stop(): Promise<void>;

  addExtension(ext: ExtensionInput): Promise<Extension>;
  removeExtension(number: string): Promise<boolean>;
  extensions(): Promise<Extension[]>;

  /** Plays a scripted call; resolves once started (or ended, with opts.wait). */
  scenario(name: ScenarioName, opts?: ScenarioOptions): Promise<ScenarioResult>;
  /** One call per options object, all started in one control request (ringing together); their call ids in order. */
  scenarios(name: ScenarioName, calls: ScenarioOptions[]): Promise<string[]>;
  /**
   * Lets a call started with `hold: true` go on to its end. Safe to call before the call reached its hold point
   * (it is remembered). Resolves true while the call is in progress, false when unknown or already over.
   */
  continue(callId: string): Promise<boolean>;
  /** Hangs up one call, or every call in progress, wherever it is (ringing, talking, on hold, transferring). */
  hangUp(callId?: string): Promise<string[]>;
  /** Resolves when every call in progress has ended and webhook pushes settled. */
  waitIdle(): Promise<void>;
  burst(opts: BurstOptions): Promise<BurstResult>;
  liveCalls(): Promise<LiveCalls>;
  /** How the emulated phones behave for call/dial (click-to-call). */
  setDialBehavior(behavior: Partial<DialBehavior>): Promise<DialBehavior>;

  /** Drops every WebSocket; with forMs new ones fail (connection destroyed) for that long. Returns how many were cut. */
  cutConnections(opts?: { forMs?: number }): Promise<number>;
  /** Ends a cut before its forMs: new WebSockets are accepted again. */
  restoreConnections(): Promise<void>;
  sockets(): Promise<SocketInfo[]>;
  setWebhook(config: WebhookConfig): Promise<void>;
  clearWebhooks(): Promise<void>;
  webhookDeliveries(): Promise<WebhookDelivery[]>;
  setEventFormat(format: EventFormat): Promise<void>;
  /** Emits an arbitrary event to subscribers and webhooks. */
  emit(type: number, msg: Record<string, unknown>): Promise<void>;
  /** Sends a raw text frame to every open socket. */
  sendRaw(text: string): Promise<number>;

  events(filter?: { type?: number; callId?: string }): Promise<EmittedEvent[]>;
  clearEvents(): Promise<void>;
  /** Polls events until `predicate` matches one (default timeout 5 s). */
  waitForEvent(predicate: (e: EmittedEvent) => boolean, timeoutMs?: number): Promise<EmittedEvent>;

  tokens(): Promise<TokenStats>;
  /** Every access and refresh token the PBX issued so far (for leak scans). */
  issuedTokens(): Promise<string[]>;
  expireAllTokens(): Promise<void>;
  unblockIps(): Promise<void>;
  requests(): Promise<RecordedRequest[]>;
  clearRequests(): Promise<void>;
  setFault(fault: Fault | null): Promise<void>;
  /** Moves the PBX clock forward (token and download-link expiry), not the scenario timers. */
  advanceClock(ms: number): Promise<void>;

  phonebooks(): Promise<PhonebookInfo[]>;
  companyContacts(): Promise<CompanyContact[]>;
  /** Deletes a company contact as a person would in the PBX web UI. */
  removeCompanyContact(id: number): Promise<boolean>;
  cdr(): Promise<CdrRow[]>;
  recordings(): Promise<RecordingInfo[]>;
  /** Control Inbound Call on (default) or off for a trunk (default SIP-Trunk-1), and the hold window (default 10 s). */
  controlInbound(opts?: { trunk?: string; on?: boolean; windowMs?: number }): Promise<void>;
  /** What the application decided for each held inbound call, and after how long (wall clock). */
  inboundDecisions(): Promise<DecisionRecord[]>;
}

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const START_TIMEOUT_MS = 20_000;

export async function startYeastarEmulator(opts: StartYeastarOptions = {}): Promise<YeastarEmulator> {
  const clientId = opts.clientId ?? 'emulator-client-id';
  const clientSecret = opts.clientSecret ?? 'emulator-client-secret';
  const sn = opts.sn ?? '3633D2199067';
  const child = spawnEmulator(emulatorArgs(opts, clientId, clientSecret, sn));
  const url = await waitReady(child);
  return new EmulatorHandle(child, url, clientId, clientSecret, sn);
}

export interface YeastarEmulatorFleet {
  /** PBX n, with its base URL `<url>/pbx/<n>` and its own control API below it. */
  readonly pbxes: readonly YeastarEmulator[];
  /** Stops the one process behind every PBX of the fleet. */
  stop(): Promise<void>;
}

/**
 * N independent PBXs in ONE emulator process (multi-pbx.ts), each under `/pbx/<n>`: for many-tenant runs.
 * Every PBX has the same client id/secret (each issues its own tokens) and its own serial number.
 * Stopping any handle of the fleet stops them all.
 */
export async function startYeastarEmulators(count: number, opts: StartYeastarOptions = {}): Promise<YeastarEmulatorFleet> {
  const clientId = opts.clientId ?? 'emulator-client-id';
  const clientSecret = opts.clientSecret ?? 'emulator-client-secret';
  const sn = opts.sn ?? '3633D2199067';
  const child = spawnEmulator([...emulatorArgs(opts, clientId, clientSecret, sn), '--instances', String(count)]);
  const url = await waitReady(child);
  const pbxes = Array.from({ length: count }, (_, n) =>
    new EmulatorHandle(child, `${url}/pbx/${n}`, clientId, clientSecret, `${sn.slice(0, 8)}${String(n).padStart(4, '0')}`));
  const first = pbxes[0];
  return { pbxes, stop: () => (first ? first.stop() : Promise.resolve()) };
}

function emulatorArgs(opts: StartYeastarOptions, clientId: string, clientSecret: string, sn: string): string[] {
  const args = [
    '--port', String(opts.port ?? 0), '--client-id', clientId, '--client-secret', clientSecret, '--sn', sn, '--exit-with-stdin',
  ];
  const numeric: [string, number | undefined][] = [
    ['--access-ttl', opts.accessTokenTtlSec], ['--refresh-ttl', opts.refreshTokenTtlSec], ['--token-cap', opts.tokenCap],
    ['--ws-idle-ms', opts.wsIdleTimeoutMs], ['--auth-failures', opts.authFailuresBeforeBlock], ['--speed', opts.speed],
  ];
  for (const [flag, value] of numeric) if (value !== undefined) args.push(flag, String(value));
  return args;
}

function spawnEmulator(args: string[]): ChildProcess {
  const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return spawn(process.execPath, ['--import', tsxLoader, MAIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
}

function waitReady(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`Yeastar emulator did not start within ${START_TIMEOUT_MS} ms: ${stderr}`));
    }, START_TIMEOUT_MS);
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      // With YEASTAR_EMULATOR_DEBUG=1 the emulator traces to stderr; pass it through to the test's output.
      if (process.env.YEASTAR_EMULATOR_DEBUG === '1') process.stderr.write(d);
    });
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
      const line = stdout.split('\n').find((l) => l.includes('"ready"'));
      if (!line) return;
      clearTimeout(timer);
      const parsed = JSON.parse(line) as { ready: boolean; url: string };
      resolve(parsed.url);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Yeastar emulator exited (${String(code)}) before ready: ${stderr}`));
    });
  });
}

class EmulatorHandle implements YeastarEmulator {
  private stopped = false;

  constructor(
    private readonly child: ChildProcess,
    readonly url: string,
    readonly clientId: string,
    readonly clientSecret: string,
    readonly sn: string,
  ) {}

  private async call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.url}/_emulator${path}`, {
      method,
      ...(body === undefined ? {} : { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const json: unknown = await res.json();
    if (!res.ok) {
      const message = typeof json === 'object' && json !== null && 'error' in json ? String(json.error) : res.statusText;
      throw new Error(`emulator ${method} ${path}: ${message}`);
    }
    return json as T;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await stopChild(this.child);
  }

  addExtension(ext: ExtensionInput): Promise<Extension> {
    return this.call('POST', '/extensions', ext);
  }

  async removeExtension(number: string): Promise<boolean> {
    return (await this.call<{ removed: boolean }>('POST', '/extensions/remove', { number })).removed;
  }

  extensions(): Promise<Extension[]> {
    return this.call('GET', '/extensions');
  }

  scenario(name: ScenarioName, opts: ScenarioOptions = {}): Promise<ScenarioResult> {
    return this.call('POST', '/scenario', { name, opts });
  }

  async scenarios(name: ScenarioName, calls: ScenarioOptions[]): Promise<string[]> {
    return (await this.call<{ callIds: string[] }>('POST', '/scenarios', { name, calls })).callIds;
  }

  async hangUp(callId?: string): Promise<string[]> {
    return (await this.call<{ hungUp: string[] }>('POST', '/hangup', callId === undefined ? {} : { callId })).hungUp;
  }

  async continue(callId: string): Promise<boolean> {
    return (await this.call<{ released: boolean }>('POST', '/continue', { callId })).released;
  }

  async waitIdle(): Promise<void> {
    await this.call('POST', '/idle');
  }

  burst(opts: BurstOptions): Promise<BurstResult> {
    return this.call('POST', '/burst', opts);
  }

  liveCalls(): Promise<LiveCalls> {
    return this.call('GET', '/calls');
  }

  setDialBehavior(behavior: Partial<DialBehavior>): Promise<DialBehavior> {
    return this.call('POST', '/dial-behavior', behavior);
  }

  async cutConnections(opts: { forMs?: number } = {}): Promise<number> {
    return (await this.call<{ cut: number }>('POST', '/cut', opts)).cut;
  }

  async restoreConnections(): Promise<void> {
    await this.call('POST', '/restore');
  }

  sockets(): Promise<SocketInfo[]> {
    return this.call('GET', '/sockets');
  }

  async setWebhook(config: WebhookConfig): Promise<void> {
    await this.call('POST', '/webhook', config);
  }

  async clearWebhooks(): Promise<void> {
    await this.call('DELETE', '/webhook');
  }

  webhookDeliveries(): Promise<WebhookDelivery[]> {
    return this.call('GET', '/webhook-deliveries');
  }

  async setEventFormat(format: EventFormat): Promise<void> {
    await this.call('POST', '/event-format', format);
  }

  async emit(type: number, msg: Record<string, unknown>): Promise<void> {
    await this.call('POST', '/emit', { type, msg });
  }

  async sendRaw(text: string): Promise<number> {
    return (await this.call<{ sent: number }>('POST', '/send-raw', { text })).sent;
  }

  events(filter: { type?: number; callId?: string } = {}): Promise<EmittedEvent[]> {
    const q = new URLSearchParams();
    if (filter.type !== undefined) q.set('type', String(filter.type));
    if (filter.callId !== undefined) q.set('callId', filter.callId);
    return this.call('GET', `/events?${q.toString()}`);
  }

  async clearEvents(): Promise<void> {
    await this.call('DELETE', '/events');
  }

  async waitForEvent(predicate: (e: EmittedEvent) => boolean, timeoutMs = 5000): Promise<EmittedEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = (await this.events()).find(predicate);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no matching Yeastar event within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  tokens(): Promise<TokenStats> {
    return this.call('GET', '/tokens');
  }

  async issuedTokens(): Promise<string[]> {
    return (await this.call<{ tokens: string[] }>('GET', '/tokens/issued')).tokens;
  }

  async expireAllTokens(): Promise<void> {
    await this.call('POST', '/tokens/expire-all');
  }

  async unblockIps(): Promise<void> {
    await this.call('POST', '/unblock');
  }

  requests(): Promise<RecordedRequest[]> {
    return this.call('GET', '/requests');
  }

  async clearRequests(): Promise<void> {
    await this.call('DELETE', '/requests');
  }

  async setFault(fault: Fault | null): Promise<void> {
    await this.call('POST', '/fault', fault);
  }

  async advanceClock(ms: number): Promise<void> {
    await this.call('POST', '/clock', { advanceMs: ms });
  }

  phonebooks(): Promise<PhonebookInfo[]> {
    return this.call('GET', '/phonebooks');
  }

  companyContacts(): Promise<CompanyContact[]> {
    return this.call('GET', '/contacts');
  }

  async removeCompanyContact(id: number): Promise<boolean> {
    return (await this.call<{ removed: boolean }>('POST', '/contacts/remove', { id })).removed;
  }

  cdr(): Promise<CdrRow[]> {
    return this.call('GET', '/cdr');
  }

  recordings(): Promise<RecordingInfo[]> {
    return this.call('GET', '/recordings');
  }

  async controlInbound(opts: { trunk?: string; on?: boolean; windowMs?: number } = {}): Promise<void> {
    await this.call('POST', '/inbound-control', opts);
  }

  inboundDecisions(): Promise<DecisionRecord[]> {
    return this.call('GET', '/inbound-decisions');
  }
}

export type { ScenarioName, ScenarioOptions, ExtensionInput, EmittedEvent, Fault, WebhookConfig, BurstOptions, DialBehavior, TokenStats, RecordedRequest };
