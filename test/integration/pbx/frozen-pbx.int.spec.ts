import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createYeastarAdapter, type YeastarAdapter } from '../../../server/pbx/yeastar/adapter.js';
import { startYeastarEmulator, type YeastarEmulator } from '../../emulators/yeastar/harness.js';
import { waitFor } from './wait.js';

/**
 * Issue 12 point 2, before: a PBX that froze with its socket open stayed "Connected" for 100 s (the link only noticed
 * when the idle limit ran out). After: a heartbeat left unanswered turns the link `unreachable` with
 * PBX_NOT_ANSWERING, and the link comes back by itself when the PBX answers again. Short timings; the waits are
 * for events (the test fails if the state never changes), not a stopwatch.
 */

const log = pino({ level: process.env['TEST_LOG'] ?? 'silent' });

describe('a frozen PBX (emulator fault `frozen`: socket open, nothing answered)', () => {
  let pbx: YeastarEmulator;
  const adapters: YeastarAdapter[] = [];

  beforeAll(async () => {
    pbx = await startYeastarEmulator({ speed: 1000 });
  });
  afterEach(async () => {
    await pbx.setFault(null);
    for (const a of adapters.splice(0)) await a.disconnect();
  });
  afterAll(async () => {
    await pbx?.stop();
  });

  it('the link says the PBX stopped answering, then reconnects once it thaws', async () => {
    const adapter = createYeastarAdapter({
      portal: 'p-frozen', log,
      timings: { settleMs: 150, heartbeatMs: 200, heartbeatAnswerMs: 600, backoffInitialMs: 50, backoffMaxMs: 400, subscribeTimeoutMs: 800, requestTimeoutMs: 800 },
      settings: { baseUrl: pbx.url, clientId: pbx.clientId, clientSecret: pbx.clientSecret, events: 'websocket', webhookSecret: '' },
    });
    adapters.push(adapter);
    await adapter.connect();
    await waitFor(() => (adapter.status().state === 'connected' ? true : undefined), 3_000, 'connected');

    await pbx.setFault({ kind: 'frozen' });
    // The emulator keeps the socket open: only the missing heartbeat answer can tell.
    expect((await pbx.sockets()).length).toBeGreaterThan(0);
    const down = await waitFor(() => (adapter.status().state === 'unreachable' ? adapter.status() : undefined), 5_000, 'unreachable');
    expect(down.lastErrorCode).toBe('PBX_NOT_ANSWERING');
    expect(down.lastError).toMatch(/stopped answering/);

    await pbx.setFault(null);
    await waitFor(() => (adapter.status().state === 'connected' ? true : undefined), 8_000, 'connected again');
    expect(adapter.status().lastError).toBeUndefined();
  });

  it('a live PBX answers every heartbeat: the link stays connected', async () => {
    const adapter = createYeastarAdapter({
      portal: 'p-live', log,
      timings: { settleMs: 150, heartbeatMs: 200, heartbeatAnswerMs: 600, backoffInitialMs: 50, backoffMaxMs: 400 },
      settings: { baseUrl: pbx.url, clientId: pbx.clientId, clientSecret: pbx.clientSecret, events: 'websocket', webhookSecret: '' },
    });
    adapters.push(adapter);
    await adapter.connect();
    await waitFor(() => (adapter.status().state === 'connected' ? true : undefined), 3_000, 'connected');
    // Several heartbeat rounds of a live PBX: still connected.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(adapter.status().state).toBe('connected');
  });
});
