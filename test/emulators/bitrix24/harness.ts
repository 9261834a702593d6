/**
 * Starts the Bitrix24 portal emulator as a child process and talks to its control API.
 *
 *   const b24 = await startBitrix24Emulator();
 *   const portal = await b24.createPortal();
 *   await b24.install(portal.memberId, { appUrl: 'http://127.0.0.1:3000' });
 *   …
 *   await b24.stop();
 *
 * The product reaches the portal only through `portal.clientEndpoint` / `portal.serverEndpoint`
 * (what Bitrix24 itself sends at install), never through this harness.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { stopChild } from '../stop-child.js';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type {
  BindingsView,
  CallView,
  CrmActivityView,
  EventDelivery,
  Fault,
  FrameToken,
  InstallResult,
  LoggedDelivery,
  PortalInfo,
  RecordedRequest,
} from './control-types.js';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, type CallbackInput, type IssuedSecrets, type ClickToCallInput, type SendEventOptions, type UserInput } from './emulator.js';
import type { CrmEntityType } from './state.js';
import type { EmulatedTask } from './methods/tasks.js';

export type { BindingsView, CallView, CrmActivityView, EventDelivery, Fault, FrameToken, InstallResult, LoggedDelivery, PortalInfo, RecordedRequest };
export type { IssuedSecrets, CallbackInput, ClickToCallInput, SendEventOptions, UserInput, CrmEntityType, EmulatedTask };
export { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET };

export interface StartOptions {
  /** Leaky-bucket limit (default on, like the cloud). */
  rateLimit?: boolean;
  /** Override drain per second (default 2, Enterprise 5). */
  drainRate?: number;
  /** Override bucket size (default 50, Enterprise 250). */
  burst?: number;
  /** Access-token lifetime in seconds (default 3600). */
  accessTokenTtlSec?: number;
  clientId?: string;
  clientSecret?: string;
  /** Timeout of event/installer POSTs to the app (default 10 s). */
  deliveryTimeoutMs?: number;
  /** Scopes of the app registration (default crm, telephony, user_basic, placement, im); others → 403 insufficient_scope. */
  appScopes?: string[];
  /** Time to wait for the ready line (default 20 s). */
  startTimeoutMs?: number;
}

export interface InstallOptions {
  appUrl: string;
  lang?: string;
  /** Where ONAPPINSTALL goes; default `<appUrl>/b24/events`; null = the app has no install handler. */
  installHandler?: string | null;
  /** Installer page; default `<appUrl>/install`. */
  installerUrl?: string;
}

export class EmulatorControlError extends Error {
  constructor(
    readonly code: string,
    description: string,
    readonly status: number,
  ) {
    super(`${code}: ${description}`);
    this.name = 'EmulatorControlError';
  }
}

export class Bitrix24Emulator {
  readonly clientId: string;
  readonly clientSecret: string;

  constructor(
    readonly url: string,
    private readonly child: ChildProcess,
    credentials: { clientId: string; clientSecret: string },
  ) {
    this.clientId = credentials.clientId;
    this.clientSecret = credentials.clientSecret;
  }

  /** The OAuth server base (what `server_endpoint` points to, minus `/rest/`). */
  get oauthUrl(): string {
    return this.url;
  }

  /** The OAuth server's REST base, as `server_endpoint` names it: what the product's B24_OAUTH_SERVER must be. */
  get serverEndpoint(): string {
    return `${this.url}/rest/`;
  }

  private async rpc<T>(operation: string, args: Record<string, unknown> = {}): Promise<T> {
    const response = await fetch(`${this.url}/_emulator/${operation}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(args),
    });
    const body = (await response.json()) as { result?: T; error?: string; error_description?: string };
    if (!response.ok || body.error) {
      throw new EmulatorControlError(body.error ?? 'EMULATOR_ERROR', body.error_description ?? '', response.status);
    }
    return body.result as T;
  }

  async stop(): Promise<void> {
    running.delete(this);
    await stopChild(this.child);
  }

  createPortal(opts: { memberId?: string; host?: string; domain?: string; plan?: 'standard' | 'enterprise'; region?: string; langId?: string } = {}): Promise<PortalInfo> {
    return this.rpc('createPortal', opts);
  }

  addUser(memberId: string, user: UserInput): Promise<{ id: number }> {
    return this.rpc('addUser', { memberId, user });
  }

  async updateUser(memberId: string, userId: number, patch: Partial<UserInput>): Promise<void> {
    await this.rpc('updateUser', { memberId, userId, patch });
  }

  /** `opts.clientId`: a frame token of ANOTHER application on the portal (default: ours). */
  frameToken(memberId: string, userId: number, opts: { clientId?: string } = {}): Promise<FrameToken> {
    return this.rpc('frameToken', { memberId, userId, ...opts });
  }

  /** Default scopes crm, telephony, user, im. */
  createWebhook(memberId: string, userId: number, scopes?: string[]): Promise<{ url: string; code: string }> {
    return this.rpc('createWebhook', { memberId, userId, scopes });
  }

  install(memberId: string, opts: InstallOptions): Promise<InstallResult> {
    return this.rpc('install', { memberId, ...opts });
  }

  /**
   * A user opens a bound widget (e.g. CALL_CARD with `{CALL_ID, PHONE_NUMBER, …}` or CRM_CONTACT_DETAIL_TAB with `{ID}`):
   * the form POST Bitrix24 makes into the iframe. Returns the app's answer and the AUTH_ID it was given.
   */
  openPlacement(
    memberId: string,
    input: { userId: number; placement: string; options?: Record<string, unknown>; lang?: string },
  ): Promise<{ status: number; body: string; url: string; accessToken: string }> {
    return this.rpc('openPlacement', { memberId, ...input });
  }

  async finishInstall(memberId: string): Promise<void> {
    await this.rpc('finishInstall', { memberId });
  }

  sendEvent(memberId: string, event: string, data: Record<string, unknown>, opts: SendEventOptions = {}): Promise<EventDelivery[]> {
    return this.rpc('sendEvent', { memberId, event, data, ...opts });
  }

  clickToCall(memberId: string, input: ClickToCallInput): Promise<{ callId: string; deliveries: EventDelivery[] }> {
    return this.rpc('clickToCall', { memberId, ...input });
  }

  callbackRequest(memberId: string, input: CallbackInput): Promise<EventDelivery[]> {
    return this.rpc('callbackRequest', { memberId, ...input });
  }

  uninstall(memberId: string, opts: { clean: boolean }): Promise<EventDelivery[]> {
    return this.rpc('uninstall', { memberId, ...opts });
  }

  async seedCrm(memberId: string, entityType: CrmEntityType, fields: Record<string, unknown>): Promise<number> {
    return (await this.rpc<{ id: number }>('seedCrm', { memberId, entityType, fields })).id;
  }

  /** A CRM activity (crm.activity.add fields: OWNER_TYPE_ID, OWNER_ID, TYPE_ID, SUBJECT, COMMUNICATIONS, START_TIME, END_TIME, COMPLETED …). */
  async seedActivity(memberId: string, fields: Record<string, unknown>): Promise<number> {
    return (await this.rpc<{ id: number }>('seedActivity', { memberId, fields })).id;
  }

  async getCrm(memberId: string, entityType: CrmEntityType, id: number): Promise<Record<string, unknown> | null> {
    return (await this.rpc<{ entity: Record<string, unknown> | null }>('getCrm', { memberId, entityType, id })).entity;
  }

  listCrm(memberId: string, entityType: CrmEntityType): Promise<Record<string, unknown>[]> {
    return this.rpc('listCrm', { memberId, entityType });
  }

  async updateCrm(memberId: string, entityType: CrmEntityType, id: number, fields: Record<string, unknown>): Promise<void> {
    await this.rpc('updateCrm', { memberId, entityType, id, fields });
  }

  /** Deletes a CRM record as crm.<type>.delete would (ONCRM<TYPE>DELETE follows). */
  async deleteCrm(memberId: string, entityType: CrmEntityType, id: number): Promise<void> {
    await this.rpc('deleteCrm', { memberId, entityType, id });
  }

  requests(filter: { memberId?: string; method?: string } = {}): Promise<RecordedRequest[]> {
    return this.rpc('requests', filter);
  }

  async clearRequests(): Promise<void> {
    await this.rpc('clearRequests');
  }

  calls(memberId: string): Promise<CallView[]> {
    return this.rpc('calls', { memberId });
  }

  async recordFile(memberId: string, fileId: number): Promise<{ name: string; kind: string; bytes: Buffer } | null> {
    const r = await this.rpc<{ file: { name: string; kind: string; base64: string } | null }>('recordFile', { memberId, fileId });
    return r.file ? { name: r.file.name, kind: r.file.kind, bytes: Buffer.from(r.file.base64, 'base64') } : null;
  }

  bindings(memberId: string): Promise<BindingsView> {
    return this.rpc('bindings', { memberId });
  }

  crmActivity(memberId: string): Promise<CrmActivityView> {
    return this.rpc('crmActivity', { memberId });
  }

  /** The portal's tasks (tasks.task.add …), with their comments and status. */
  tasks(memberId: string): Promise<EmulatedTask[]> {
    return this.rpc('tasks', { memberId });
  }

  async setFault(memberId: string | '*', fault: Fault | null): Promise<void> {
    await this.rpc('setFault', { memberId, fault });
  }

  async expireAccessTokens(memberId: string): Promise<number> {
    return (await this.rpc<{ expired: number }>('expireAccessTokens', { memberId })).expired;
  }

  /** Every access/refresh token, application token and webhook code issued so far, and the app's client secret. */
  issuedSecrets(): Promise<IssuedSecrets> {
    return this.rpc('issuedSecrets');
  }

  async refreshCount(memberId: string): Promise<number> {
    return (await this.rpc<{ count: number }>('refreshCount', { memberId })).count;
  }

  async configure(patch: Omit<StartOptions, 'startTimeoutMs'>): Promise<void> {
    await this.rpc('configure', patch);
  }

  /** Every event POST the emulator made (click-to-call, CRM change events, uninstall …), oldest first. */
  deliveries(filter: { memberId?: string; event?: string } = {}): Promise<LoggedDelivery[]> {
    return this.rpc('deliveries', filter);
  }

  /** Waits until every event POST in flight (e.g. ONCRMCONTACTUPDATE after a CRM change) has been answered. */
  async settle(): Promise<void> {
    await this.rpc('settle');
  }

  async resetRateLimit(memberId: string): Promise<void> {
    await this.rpc('resetRateLimit', { memberId });
  }
}

/** Emulators this process started and has not stopped: the OAuth server a test server should trust (testConfig). */
const running = new Set<Bitrix24Emulator>();

/** The `server_endpoint` of every emulator running in this process. */
export function runningOAuthServers(): string[] {
  return [...running].map((e) => e.serverEndpoint);
}

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
/** The repository root, so `--import tsx` resolves whatever the caller's working directory. */
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export async function startBitrix24Emulator(opts: StartOptions = {}): Promise<Bitrix24Emulator> {
  const clientId = opts.clientId ?? process.env.B24_EMU_CLIENT_ID ?? DEFAULT_CLIENT_ID;
  const clientSecret = opts.clientSecret ?? process.env.B24_EMU_CLIENT_SECRET ?? DEFAULT_CLIENT_SECRET;
  const args = ['--import', 'tsx', MAIN, '--port', '0'];
  if (opts.rateLimit === false) args.push('--no-rate-limit');
  if (opts.drainRate !== undefined) args.push('--drain-rate', String(opts.drainRate));
  if (opts.burst !== undefined) args.push('--burst', String(opts.burst));
  if (opts.accessTokenTtlSec !== undefined) args.push('--token-ttl', String(opts.accessTokenTtlSec));
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, B24_EMU_CLIENT_ID: clientId, B24_EMU_CLIENT_SECRET: clientSecret },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`Bitrix24 emulator did not start in time. stderr: ${stderr}`));
    }, opts.startTimeoutMs ?? 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Bitrix24 emulator exited with ${code}. stderr: ${stderr}`));
    });
    if (!child.stdout) return reject(new Error('no stdout'));
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      try {
        const msg = JSON.parse(line) as { ready?: boolean; url?: string };
        if (msg.ready && msg.url) {
          clearTimeout(timer);
          resolve(msg.url);
        }
      } catch {
        // Not the ready line.
      }
    });
  });
  const emulator = new Bitrix24Emulator(url, child, { clientId, clientSecret });
  running.add(emulator);
  child.once('exit', () => running.delete(emulator));
  if (opts.deliveryTimeoutMs !== undefined || opts.appScopes !== undefined) {
    await emulator.configure({ deliveryTimeoutMs: opts.deliveryTimeoutMs, appScopes: opts.appScopes });
  }
  return emulator;
}
