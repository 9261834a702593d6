import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../server/config.js';
import type { CallEvent } from '../../../server/pbx/adapter.js';
import { createPbxSupervisor, type PbxSupervisor } from '../../../server/pbx/supervisor.js';
import { yeastarBrand } from '../../../server/pbx/yeastar/brand.js';
import { createYeastarAdapter, type YeastarAdapter, type YeastarTimings } from '../../../server/pbx/yeastar/adapter.js';
import { DEFAULT_SETTINGS } from '../../../server/store/records.js';
import { startYeastarEmulator, type YeastarEmulator } from '../../emulators/yeastar/harness.js';
import { memoryStore, portal } from './memory-store.js';
import { waitFor } from './wait.js';

/**
 * The link heals itself: cuts reconnect within seconds and the calls of the gap come back from the call history
 * exactly once (also across a restart); auth problems give a clear status without a login storm; webhook mode
 * delivers signed pushes and refuses wrongly signed ones.
 */

const log = pino({ level: process.env['TEST_LOG'] ?? 'silent' });
const FAST: Partial<YeastarTimings> = { settleMs: 150, heartbeatMs: 500, backoffInitialMs: 50, backoffMaxMs: 400, subscribeTimeoutMs: 2_000 };
const config = (dataDir: string) => ({ ...loadConfig({ DATA_DIR: dataDir, PBX_ALLOW_LOOPBACK: '1' }) });

describe('Yeastar link resilience (supervisor + emulator)', () => {
  let pbx: YeastarEmulator;
  let dataDir: string;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    pbx = await startYeastarEmulator({ speed: 1000 });
    dataDir = await mkdtemp(join(tmpdir(), 'pbx-sup-'));
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await pbx.setFault(null);
    await pbx.unblockIps();
    await pbx.clearWebhooks();
  });
  afterAll(async () => {
    await pbx?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  function supervisorFor(memberId: string, events: CallEvent[], mode: 'websocket' | 'webhook' = 'websocket', secret = pbx.clientSecret) {
    const store = memoryStore();
    void store.portals.put(portal(memberId));
    store.setSettings(memberId, {
      ...DEFAULT_SETTINGS, enabled: true,
      pbx: { baseUrl: pbx.url, clientId: pbx.clientId, clientSecret: secret, events: mode, webhookSecret: 'W'.repeat(32) },
    });
    const sup: PbxSupervisor = createPbxSupervisor({
      store, log, config: config(dataDir), onCallEvent: (e) => {
        events.push(e);
      },
      ...yeastarBrand(FAST), coverageTickMs: 100, recoveryRetryMs: 300, recoveryTailMs: 300,
    });
    return { sup, store };
  }

  it('a cut link reconnects within seconds; calls made during the cut come back from CDR exactly once; so do calls made while the server was down', async () => {
    const events: CallEvent[] = [];
    const { sup } = supervisorFor('m-cut', events);
    await sup.start();
    cleanups.push(() => sup.stop());
    expect(sup.status('m-cut').state).toBe('connected');

    const live = await pbx.scenario('inbound-answered', { to: '1001', wait: true });
    await waitFor(() => events.find((e) => e.pbxCallId === live.callId && e.kind === 'cdr'), 3_000, 'live cdr');

    expect(await pbx.cutConnections({ forMs: 1_200 })).toBeGreaterThan(0);
    await waitFor(() => (sup.status('m-cut').state !== 'connected' ? true : undefined), 2_000, 'link down');
    const during = [
      // Short calls: the emulator stamps CDR rows in real time but counts durations in PBX seconds, so a call
      // "ends" ring + talk seconds after it started; recovery waits until a call's legs have settled.
      await pbx.scenario('inbound-missed', { to: '1002', ringSeconds: 1, wait: true }),
      await pbx.scenario('outbound-answered', { from: '1003', to: '+4930123', ringSeconds: 1, talkSeconds: 1, wait: true }),
    ];
    // The event, not a stopwatch: the link comes back by itself (waitFor fails the test if it never does).
    await waitFor(() => (sup.status('m-cut').state === 'connected' ? true : undefined), 6_000, 'reconnect');
    for (const c of during) await waitFor(() => events.find((e) => e.pbxCallId === c.callId && e.kind === 'cdr'), 4_000, 'recovered cdr');
    await new Promise((r) => setTimeout(r, 500));

    const cdrs = (id: string) => events.filter((e) => e.pbxCallId === id && e.kind === 'cdr');
    expect(cdrs(live.callId)).toHaveLength(1);
    expect(cdrs(live.callId)[0]?.recovered).toBeUndefined();
    const [missed, outbound] = during.map((c) => cdrs(c.callId));
    expect(missed).toHaveLength(1);
    expect(missed?.[0]).toMatchObject({ recovered: true, direction: 'inbound', external: '+15550123456', cdr: { result: 'missed' } });
    expect(outbound).toHaveLength(1);
    expect(outbound?.[0]).toMatchObject({ recovered: true, direction: 'outbound', external: '+4930123', cdr: { result: 'answered', placedBy: '1003' } });

    // Server down: the call is made while no supervisor runs, the next start recovers it from the saved mark.
    await sup.stop();
    const state = JSON.parse(await readFile(join(dataDir, 'pbx-links.json'), 'utf8')) as { portals: Record<string, { coveredUntil: number }> };
    expect(state.portals['m-cut']?.coveredUntil).toBeGreaterThan(0);
    const whileDown = await pbx.scenario('ring-group', { to: ['1001', '1002'], answeredBy: '1002', ringSeconds: 1, talkSeconds: 1, wait: true });
    const again: CallEvent[] = [];
    const second = supervisorFor('m-cut', again);
    await second.sup.start();
    cleanups.push(() => second.sup.stop());
    const recovered = await waitFor(() => again.find((e) => e.pbxCallId === whileDown.callId), 4_000, 'cdr after restart');
    expect(recovered).toMatchObject({ kind: 'cdr', recovered: true, cdr: { result: 'answered', answeredBy: '1002' } });
    await new Promise((r) => setTimeout(r, 300));
    expect(again.filter((e) => e.pbxCallId === whileDown.callId)).toHaveLength(1);
  });

  it('a wrong secret gives auth_failed in plain words, one login attempt, no IP block', async () => {
    const before = await pbx.tokens();
    const events: CallEvent[] = [];
    const { sup } = supervisorFor('m-bad', events, 'websocket', 'not-the-secret');
    await sup.start();
    cleanups.push(() => sup.stop());
    const status = sup.status('m-bad');
    expect(status.state).toBe('auth_failed');
    expect(status.lastErrorCode).toBe('PBX_AUTH_FAILED');
    expect(status.lastError).toMatch(/refused the Client ID \/ Client Secret/);
    await new Promise((r) => setTimeout(r, 1_500));
    const after = await pbx.tokens();
    expect(after.getTokenCalls - before.getTokenCalls).toBe(1);
    expect(after.blockedIps).toEqual([]);
    expect(sup.status('m-bad').state).toBe('auth_failed');
  });

  it('a blocked IP gives auth_failed naming the IP rule', async () => {
    await pbx.setFault({ kind: 'ip_blocked' });
    const { sup } = supervisorFor('m-ip', []);
    await sup.start();
    cleanups.push(() => sup.stop());
    expect(sup.status('m-ip')).toMatchObject({ state: 'auth_failed', lastErrorCode: 'PBX_IP_FORBIDDEN' });
    expect(sup.status('m-ip').lastError).toMatch(/IP address/);
  });

  it('settings changes reconcile: disable closes the link, enable reopens it', async () => {
    const { sup, store } = supervisorFor('m-toggle', []);
    await sup.start();
    cleanups.push(() => sup.stop());
    expect(sup.status('m-toggle').state).toBe('connected');
    const s = store.settings.get('m-toggle');
    store.setSettings('m-toggle', { ...s, enabled: false });
    await sup.reconcile('m-toggle');
    expect(sup.status('m-toggle').state).toBe('disabled');
    expect(sup.adapter('m-toggle')).toBeUndefined();
    store.setSettings('m-toggle', { ...s, enabled: true });
    await sup.reconcile('m-toggle');
    expect(sup.status('m-toggle').state).toBe('connected');
    store.setSettings('m-toggle', { ...s, pbx: s.pbx ? { ...s.pbx, baseUrl: 'http://169.254.169.254/' } : null });
    await sup.reconcile('m-toggle');
    expect(sup.status('m-toggle')).toMatchObject({ state: 'unreachable', lastErrorCode: 'PBX_ADDRESS_REFUSED' });
    await expect(sup.testConnection({ baseUrl: pbx.url, clientId: pbx.clientId, clientSecret: pbx.clientSecret, events: 'websocket', webhookSecret: '' }))
      .resolves.toMatchObject({ extensions: expect.any(Number) });
    await expect(sup.testConnection({ baseUrl: pbx.url, clientId: pbx.clientId, clientSecret: 'nope', events: 'websocket', webhookSecret: '' }))
      .rejects.toMatchObject({ code: 'PBX_AUTH_FAILED' });
  });

  it('webhook mode: signed pushes are delivered; a wrong signature is refused with 401', async () => {
    const events: CallEvent[] = [];
    const { sup } = supervisorFor('m-hook', events, 'webhook');
    await sup.start();
    cleanups.push(() => sup.stop());
    const app = express();
    app.use(sup.webhookRouter());
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => new Promise((r) => server.close(() => r())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${sup.webhookPath('m-hook')}`;
    expect(sup.webhookPath('m-hook')).not.toContain('m-hook');

    await pbx.setWebhook({ url, secret: 'W'.repeat(32) });
    const good = await pbx.scenario('inbound-answered', { to: '1002', talkSeconds: 12, wait: true });
    const cdr = await waitFor(() => events.find((e) => e.pbxCallId === good.callId && e.kind === 'cdr'), 4_000, 'webhook cdr');
    expect(cdr.cdr).toMatchObject({ result: 'answered', answeredBy: '1002', talkSeconds: 12 });
    expect(events.filter((e) => e.pbxCallId === good.callId).map((e) => e.kind)).toContain('ringing');

    await pbx.clearWebhooks();
    await pbx.setWebhook({ url, secret: 'X'.repeat(32) });
    const bad = await pbx.scenario('inbound-answered', { to: '1001', wait: true });
    await pbx.waitIdle();
    await new Promise((r) => setTimeout(r, 300));
    expect(events.some((e) => e.pbxCallId === bad.callId)).toBe(false);
    const deliveries = await pbx.webhookDeliveries();
    expect(deliveries.filter((d) => d.url === url).map((d) => d.status)).toContain(401);
  });
});

describe('Yeastar tokens against the emulator', () => {
  let pbx: YeastarEmulator;
  const adapters: YeastarAdapter[] = [];
  const make = (secret?: string) => {
    const a = createYeastarAdapter({
      portal: 'p', log, timings: FAST,
      settings: { baseUrl: pbx.url, clientId: pbx.clientId, clientSecret: secret ?? pbx.clientSecret, events: 'websocket', webhookSecret: '' },
    });
    adapters.push(a);
    return a;
  };

  beforeAll(async () => {
    pbx = await startYeastarEmulator({ speed: 1000, tokenCap: 3 });
  });
  afterEach(async () => {
    for (const a of adapters.splice(0)) await a.disconnect();
  });
  afterAll(async () => {
    await pbx?.stop();
  });

  it('every request carries a User-Agent (the PBX refuses one without it)', async () => {
    const bare = await fetch(`${pbx.url}/openapi/v1.0/get_token`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'User-Agent': '' }, body: JSON.stringify({ username: pbx.clientId, password: pbx.clientSecret }),
    });
    const answer = (await bare.json()) as { errcode: number };
    await pbx.clearRequests();
    const a = make();
    await a.connect();
    await a.listExtensions();
    const requests = await pbx.requests();
    expect(requests.length).toBeGreaterThan(1);
    for (const r of requests) expect(r.userAgent ?? '').not.toBe('');
    expect(answer.errcode).toBe(40002);
  });

  it('an expired token is renewed once for REST and for the socket: no auth_failed, back to connected', async () => {
    const a = make();
    const states: string[] = [];
    a.onStatus((s) => states.push(s.state));
    await a.connect();
    await pbx.expireAllTokens();
    expect((await a.listExtensions()).length).toBeGreaterThan(0);
    await pbx.expireAllTokens();
    await pbx.cutConnections();
    await waitFor(() => (states.at(-1) === 'connected' && states.length > 1 ? true : undefined), 4_000, 'reconnect with a fresh token');
    expect(states).not.toContain('auth_failed');
    expect((await pbx.tokens()).live).toBeLessThanOrEqual(2);
  });

  it('the token cap gives a clear auth_failed status and no login storm', async () => {
    for (let i = 0; i < 3; i += 1) {
      await fetch(`${pbx.url}/openapi/v1.0/get_token`, {
        method: 'POST', headers: { 'Content-Type': 'application/json', 'User-Agent': 'test' }, body: JSON.stringify({ username: pbx.clientId, password: pbx.clientSecret }),
      });
    }
    const before = await pbx.tokens();
    const a = make();
    await a.connect();
    expect(a.status()).toMatchObject({ state: 'auth_failed', lastErrorCode: 'PBX_TOKEN_LIMIT' });
    expect(a.status().lastError).toMatch(/at most 8 live tokens/);
    await new Promise((r) => setTimeout(r, 1_500));
    const after = await pbx.tokens();
    expect(after.getTokenCalls - before.getTokenCalls).toBe(1);
    await pbx.expireAllTokens();
  });

  it('the connect-time address guard refuses a host name that resolves to loopback', async () => {
    const port = new URL(pbx.url).port;
    const a = createYeastarAdapter({
      portal: 'p', log, timings: FAST, addressPolicy: { allowLoopback: false, allowPrivate: false },
      settings: { baseUrl: `http://localhost:${port}`, clientId: pbx.clientId, clientSecret: pbx.clientSecret, events: 'websocket', webhookSecret: '' },
    });
    adapters.push(a);
    await pbx.clearRequests();
    await a.connect();
    expect(a.status().state).toBe('unreachable');
    expect(a.status().lastError).toMatch(/PBX_ADDRESS_REFUSED: .*loopback/);
    expect(await pbx.requests()).toEqual([]);
  });

  it('disconnect revokes its tokens', async () => {
    await pbx.expireAllTokens();
    const a = make();
    await a.connect();
    expect((await pbx.tokens()).live).toBe(1);
    await a.disconnect();
    expect((await pbx.tokens()).live).toBe(0);
  });
});

describe('Yeastar link upkeep', () => {
  let pbx: YeastarEmulator;
  let adapter: YeastarAdapter | undefined;

  beforeAll(async () => {
    pbx = await startYeastarEmulator({ speed: 1000, accessTokenTtlSec: 3, wsIdleTimeoutMs: 1_500 });
  });
  afterAll(async () => {
    await adapter?.disconnect();
    await pbx?.stop();
  });

  it('heartbeats keep an idle socket open; the socket moves to a refreshed token before expiry without a gap', async () => {
    adapter = createYeastarAdapter({
      portal: 'p', log,
      settings: { baseUrl: pbx.url, clientId: pbx.clientId, clientSecret: pbx.clientSecret, events: 'websocket', webhookSecret: '' },
      timings: { ...FAST, heartbeatMs: 400, idleTimeoutMs: 1_500, tokenRefreshLeadMs: 1_500, revokeGraceMs: 300 },
    });
    const states: string[] = [];
    const events: CallEvent[] = [];
    adapter.onStatus((s) => states.push(s.state));
    adapter.onCallEvent((e) => events.push(e));
    await adapter.connect();
    expect(adapter.status().state).toBe('connected');
    const firstSocket = (await pbx.sockets())[0];
    await new Promise((r) => setTimeout(r, 7_000));
    expect(states.filter((s) => s !== 'connected' && s !== 'connecting')).toEqual([]);
    expect(adapter.status().state).toBe('connected');
    const tokens = await pbx.tokens();
    expect(tokens.getTokenCalls).toBe(1);
    expect(tokens.refreshCalls).toBeGreaterThanOrEqual(2);
    expect(tokens.live).toBeLessThanOrEqual(2);
    const sockets = await pbx.sockets();
    expect(sockets).toHaveLength(1);
    expect(sockets[0]?.id).not.toBe(firstSocket?.id);
    const call = await pbx.scenario('inbound-answered', { to: '1001', wait: true });
    await waitFor(() => events.find((e) => e.pbxCallId === call.callId && e.kind === 'cdr'), 3_000, 'cdr after renewals');
  }, 20_000);
});
