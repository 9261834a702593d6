import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { handleControl } from './control.js';
import { errors, isRecord, readRawBody, sendJson, type RestAnswer, type RestContext } from './envelope.js';
import { EventHub } from './event-hub.js';
import * as calls from './rest-calls.js';
import * as inbound from './inbound-control.js';
import * as auth from './rest-auth.js';
import * as dir from './rest-directory.js';
import { DEFAULT_EXTENSIONS, PbxState } from './state.js';
import { SUBSCRIBE_PATH, SubscribeEndpoint } from './subscribe.js';
import { Switchboard } from './switchboard.js';
import { TokenStore } from './tokens.js';
import type { EmulatorOptions, Fault, RecordedRequest } from './types.js';

/**
 * The emulated Yeastar P-Series PBX: REST under /openapi/v1.0/, the WebSocket on the same port, recording downloads
 * under /api/download/, and the test control API under /_emulator/ (never part of the PBX).
 */

export const API_PREFIX = '/openapi/v1.0/';

type Handler = (ctx: RestContext) => RestAnswer;
interface Route {
  method: 'GET' | 'POST';
  /** Token not needed (auth endpoints). */
  open?: boolean;
  handler: Handler;
}

export const DEFAULT_OPTIONS: EmulatorOptions = {
  clientId: 'emulator-client-id',
  clientSecret: 'emulator-client-secret',
  accessTokenTtlSec: 1800,
  refreshTokenTtlSec: 86400,
  tokenCap: 8,
  sn: '3633D2199067',
  wsIdleTimeoutMs: 60_000,
  authFailuresBeforeBlock: 5,
  defaultSpeed: 1000,
  debug: false,
};

export interface FaultState {
  fault: Fault | null;
  until: number;
}

export class YeastarEmulatorServer {
  readonly state: PbxState;
  readonly tokens: TokenStore;
  readonly hub: EventHub;
  readonly board: Switchboard;
  readonly links: calls.DownloadLinks;
  readonly subscribe: SubscribeEndpoint;
  readonly requestLog: RecordedRequest[] = [];
  /** REST answers the `slow` fault held back (tests assert this event, not a duration). */
  slowedAnswers = 0;
  private faultState: FaultState = { fault: null, until: 0 };
  private readonly startedAt = Date.now();
  /** null when the instance is one of several behind a MultiPbxServer (multi-pbx.ts), which owns the listener. */
  private readonly server: Server | null;
  private readonly routes: Record<string, Route>;

  private constructor(options: EmulatorOptions, readonly recordingsDir: string, listen: boolean) {
    this.state = new PbxState(options);
    for (const ext of DEFAULT_EXTENSIONS) this.state.addExtension(ext);
    this.tokens = new TokenStore(this.state);
    this.hub = new EventHub(this.state);
    this.board = new Switchboard({ state: this.state, hub: this.hub, recordingsDir });
    this.links = new calls.DownloadLinks(this.state);
    this.subscribe = new SubscribeEndpoint(this.state, this.tokens, this.hub, (line) => this.trace(line));
    const frozen = (): boolean => this.fault()?.kind === 'frozen';
    this.hub.isFrozen = frozen;
    this.subscribe.isFrozen = frozen;
    this.hub.onEmit = (type, callId, deliveredTo) => this.trace(`event ${type} ${callId ?? ''} -> ${deliveredTo} socket(s)`);
    const s = this.state;
    const get = (handler: Handler): Route => ({ method: 'GET', handler });
    const post = (handler: Handler): Route => ({ method: 'POST', handler });
    this.routes = {
      get_token: { method: 'POST', open: true, handler: (c) => auth.getToken(c, this.tokens, this.fault()?.kind === 'wrong_secret') },
      refresh_token: { method: 'POST', open: true, handler: (c) => auth.refreshToken(c, this.tokens) },
      del_token: { method: 'GET', open: true, handler: (c) => auth.deleteToken(c, this.tokens) },
      'system/information': get(() => dir.systemInformation(s, this.startedAt)),
      'extension/list': get((c) => dir.listExtensions(c, s)),
      'extension/search': get((c) => dir.searchExtensions(c, s)),
      'extension/get': get((c) => dir.getExtension(c, s)),
      'extension/query': get((c) => dir.queryExtensions(c, s)),
      'company_contact/list': get((c) => dir.listContacts(c, s)),
      'company_contact/search': get((c) => dir.searchContacts(c, s)),
      'company_contact/get': get((c) => dir.getContact(c, s)),
      'company_contact/create': post((c) => dir.createContact(c, s)),
      'company_contact/update': post((c) => dir.updateContact(c, s)),
      'company_contact/delete': get((c) => dir.deleteContact(c, s)),
      'phonebook/list': get((c) => dir.listPhonebooks(c, s)),
      'phonebook/search': get((c) => dir.searchPhonebooks(c, s)),
      'phonebook/get': get((c) => dir.getPhonebook(c, s)),
      'phonebook/query': get((c) => dir.queryPhonebooks(c, s)),
      'phonebook/create': post((c) => dir.createPhonebook(c, s)),
      'phonebook/update': post((c) => dir.updatePhonebook(c, s)),
      'phonebook/delete': get((c) => dir.deletePhonebook(c, s)),
      'call/dial': post((c) => calls.dial(c, s, this.board)),
      'call/query': get((c) => calls.queryCalls(c, this.board)),
      'call/hangup': post((c) => calls.hangup(c, this.board)),
      'call/accept_inbound': post((c) => inbound.acceptInbound(c, s)),
      'call/refuse_inbound': post((c) => inbound.refuseInbound(c, s)),
      'call/transfer': post((c) => inbound.transferHeld(c, s)),
      'cdr/list': get((c) => calls.listCdr(c, s)),
      'cdr/search': get((c) => calls.searchCdr(c, s)),
      'recording/list': get((c) => calls.listRecordings(c, s)),
      'recording/search': get((c) => calls.searchRecordings(c, s)),
      'recording/download': get((c) => calls.downloadRecording(c, s, this.links)),
    };
    this.server = null;
    if (listen) {
      const server = createServer((req, res) => this.handle(req, res));
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
      this.server = server;
    }
  }

  static async start(options: Partial<EmulatorOptions> = {}, port = 0, host = '127.0.0.1'): Promise<{ emulator: YeastarEmulatorServer; url: string }> {
    const dirPath = await mkdtemp(join(tmpdir(), 'yeastar-emulator-'));
    const emulator = new YeastarEmulatorServer({ ...DEFAULT_OPTIONS, ...options }, dirPath, true);
    const { server } = emulator;
    if (!server) throw new Error('listening emulator without a server');
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const { port: actual } = server.address() as AddressInfo;
    return { emulator, url: `http://${host}:${actual}` };
  }

  /** An instance without its own listener: the caller routes requests and upgrades to `handle` / `upgrade`. */
  static async embedded(options: Partial<EmulatorOptions> = {}): Promise<YeastarEmulatorServer> {
    const dirPath = await mkdtemp(join(tmpdir(), 'yeastar-emulator-'));
    return new YeastarEmulatorServer({ ...DEFAULT_OPTIONS, ...options }, dirPath, false);
  }

  /** One HTTP request whose `req.url` is relative to this PBX's base (the multi-PBX router strips its prefix first). */
  handle(req: IncomingMessage, res: ServerResponse): void {
    this.dispatch(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, { error: err instanceof Error ? err.message : String(err) }, 500);
      else res.destroy();
    });
  }

  async close(): Promise<void> {
    await this.board.hangUpAll();
    this.subscribe.close();
    const { server } = this;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await this.hub.drain();
    await rm(this.recordingsDir, { recursive: true, force: true });
  }

  /** Debug trace line on stderr; never carries a token (queries are already redacted). */
  trace(line: string): void {
    if (this.state.options.debug) process.stderr.write(`[yeastar ${new Date().toISOString()}] ${line}\n`);
  }

  fault(): Fault | null {
    const { fault, until } = this.faultState;
    if (fault && until > 0 && Date.now() >= until) this.faultState = { fault: null, until: 0 };
    return this.faultState.fault;
  }

  setFault(fault: Fault | null): void {
    this.faultState = { fault, until: fault?.forMs ? Date.now() + fault.forMs : 0 };
    if (fault?.kind !== 'frozen') this.subscribe.dropHanging();
    if (fault?.kind === 'down') this.hub.cutAll();
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://emulator');
    if (url.pathname !== SUBSCRIBE_PATH || this.fault()?.kind === 'down') {
      this.trace(`upgrade ${url.pathname} refused (down or wrong path)`);
      socket.destroy();
      return;
    }
    this.subscribe.handleUpgrade(req, socket, head, url);
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    if (url.pathname.startsWith('/_emulator/')) {
      await handleControl(this, req, res, url);
      return;
    }
    const fault = this.fault();
    if (fault?.kind === 'down') {
      // A PBX that is down resets the connection; clients see ECONNRESET / socket hang up.
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'slow') {
      this.slowedAnswers += 1;
      await new Promise((r) => setTimeout(r, fault.delayMs ?? 2000));
    }
    // A frozen PBX answers nothing: the request waits until the PBX thaws (the client's own timeout ends it first).
    while (this.fault()?.kind === 'frozen' && !req.socket.destroyed) await new Promise((r) => setTimeout(r, 100));
    if (req.socket.destroyed) return;
    if (url.pathname === SUBSCRIBE_PATH) {
      // WebSocket-only endpoint: a plain GET gets HTTP 400 (observed in milaportal docs/yeastar/live-audit-2026-07-30.md).
      res.writeHead(400, { 'Content-Type': 'text/plain' });
      res.end('Bad Request');
      return;
    }
    if (url.pathname.startsWith('/api/download/')) {
      await this.serveDownload(req, res, url);
      return;
    }
    const raw = await readRawBody(req);
    const record: RecordedRequest = {
      at: this.state.now(),
      method: req.method ?? 'GET',
      path: url.pathname,
      query: redactQuery(url.searchParams),
      ...(req.headers['user-agent'] ? { userAgent: req.headers['user-agent'] } : {}),
    };
    this.requestLog.push(record);
    const answer = this.answerRest(req, url, raw, record);
    record.errcode = answer.errcode;
    this.trace(`${record.method} ${record.path} ${new URLSearchParams(record.query).toString()} -> ${answer.errcode}`);
    sendJson(res, answer);
  }

  private answerRest(req: IncomingMessage, url: URL, raw: Buffer, record: RecordedRequest): RestAnswer {
    // Every request needs a User-Agent (Get Access Token page); without one the PBX answers 40002 (community note, UNCONFIRMED wording).
    if (!req.headers['user-agent']) return errors.parameter();
    if (!url.pathname.startsWith(API_PREFIX)) return errors.interfaceNotExisted();
    const endpoint = url.pathname.slice(API_PREFIX.length);
    const route = this.routes[endpoint];
    // A wrong method is "INTERFACE NOT EXISTED" too (milaportal api-probe-results.md).
    if (!route || route.method !== req.method) return errors.interfaceNotExisted();
    let body: Record<string, unknown> = {};
    if (req.method === 'POST') {
      const text = raw.toString('utf8');
      if (text.trim() !== '') {
        try {
          const parsed: unknown = JSON.parse(text);
          if (!isRecord(parsed)) return errors.parameter();
          body = parsed;
        } catch {
          return errors.parameter();
        }
      }
      record.body = redactBody(body);
    }
    const ip = req.socket.remoteAddress ?? 'unknown';
    if (route.open) {
      if (this.fault()?.kind === 'ip_blocked' && endpoint !== 'del_token') return errors.ipForbidden();
    } else if (!this.tokens.isValid(url.searchParams.get('access_token'))) {
      // Only the access_token query parameter counts; an Authorization header is ignored (community note, reference §1).
      return errors.tokenExpired();
    }
    return route.handler({ req, method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, body, ip });
  }

  /** GET {download_resource_url}?access_token= streams the WAV with Content-Type audio/x-wav (captured headers, reference §4.5). */
  private async serveDownload(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const record: RecordedRequest = { at: this.state.now(), method: req.method ?? 'GET', path: url.pathname, query: redactQuery(url.searchParams) };
    this.requestLog.push(record);
    if (!req.headers['user-agent']) {
      record.errcode = 40002;
      sendJson(res, errors.parameter());
      return;
    }
    if (!this.tokens.isValid(url.searchParams.get('access_token'))) {
      record.errcode = 10004;
      sendJson(res, errors.tokenExpired());
      return;
    }
    const name = decodeURIComponent(url.pathname.slice('/api/download/'.length));
    const file = this.links.resolve(name);
    const rec = file ? this.state.recordings.find((r) => r.file === file) : undefined;
    if (!rec) {
      // Expired or unknown link: answer shape UNCONFIRMED; a JSON error with HTTP 404 so clients cannot mistake it for audio.
      record.errcode = 60001;
      sendJson(res, errors.notFound(), 404);
      return;
    }
    const info = await stat(rec.path);
    res.writeHead(200, {
      Server: 'nginx',
      'Content-Type': 'audio/x-wav',
      'Content-Length': info.size,
      // A name outside ASCII (the caller id is part of it) goes RFC 5987-encoded: Node refuses it raw. How a real PBX
      // writes such a name is UNCONFIRMED; the product names the file from recording/download's `file`, not from here.
      'Content-Disposition': /^[\x20-\x7e]*$/.test(rec.file) ? `attachment; filename="${rec.file}"` : `attachment; filename*=UTF-8''${encodeURIComponent(rec.file)}`,
    });
    createReadStream(rec.path).pipe(res);
  }
}

function redactQuery(params: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of params) out[k] = k === 'access_token' ? '[token]' : v;
  return out;
}

function redactBody(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...body };
  for (const key of ['password', 'refresh_token']) if (key in out) out[key] = '[redacted]';
  return out;
}
