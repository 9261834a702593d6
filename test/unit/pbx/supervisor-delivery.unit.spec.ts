import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../server/config.js';
import type { CallEvent, PbxAdapter, PbxLinkStatus } from '../../../server/pbx/adapter.js';
import { createPbxSupervisor } from '../../../server/pbx/supervisor.js';
import { DEFAULT_SETTINGS } from '../../../server/store/records.js';
import { memoryStore, portal } from '../../integration/pbx/memory-store.js';

/**
 * Delivery of live events: each handed on at once, in the order the link heard them. The supervisor orders nothing
 * per call — the calls service owns a call's order (issue 15 point 3; test/unit/calls/call-order.unit.spec.ts shows
 * one call's events in sequence and calls side by side through both) — so a slow handler holds nothing else here.
 */
function fakeAdapter() {
  let status: PbxLinkStatus = { state: 'disabled' };
  const statusListeners = new Set<(s: PbxLinkStatus) => void>();
  const eventListeners = new Set<(e: CallEvent) => void>();
  const setStatus = (next: PbxLinkStatus) => {
    status = next;
    for (const l of statusListeners) l(next);
  };
  const adapter: PbxAdapter = {
    connect: async () => setStatus({ state: 'connected' }),
    disconnect: async () => setStatus({ state: 'disabled' }),
    status: () => status,
    onCallEvent: (l) => {
      eventListeners.add(l);
      return () => eventListeners.delete(l);
    },
    onStatus: (l) => {
      statusListeners.add(l);
      return () => statusListeners.delete(l);
    },
    testConnection: async () => undefined,
    listExtensions: async () => [],
    dial: async () => ({ pbxCallId: 'x' }),
    downloadRecording: async () => { throw new Error('unused'); },
    searchCdr: async () => [],
    listPhonebooks: async () => [],
    createPhonebook: async (name) => ({ id: '1', name, contactCount: 0 }),
    upsertContact: async () => '1',
  };
  return { adapter, emit: (e: CallEvent) => { for (const l of eventListeners) l(e); } };
}

const event = (id: string, kind: CallEvent['kind']): CallEvent => ({
  portal: 'm1', pbxCallId: id, at: Date.now(), kind, direction: 'inbound', external: '+15550001111', extensions: [],
});

describe('PBX supervisor delivery of live events', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'pbx-sup-delivery-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('hands every event on at once, in the order heard, and stops only once the handlers in progress are done', async () => {
    const store = memoryStore();
    void store.portals.put(portal('m1'));
    store.setSettings('m1', { ...DEFAULT_SETTINGS, enabled: true, pbx: { baseUrl: 'http://127.0.0.1:9', clientId: 'c', clientSecret: 's', events: 'websocket', webhookSecret: '' } });
    const fake = fakeAdapter();
    const log: string[] = [];
    const release = new Map<string, () => void>();
    const sup = createPbxSupervisor({
      store, log: pino({ level: 'silent' }), config: loadConfig({ DATA_DIR: dataDir, PBX_ALLOW_LOOPBACK: '1' }),
      createAdapter: () => fake.adapter,
      onCallEvent: async (e) => {
        log.push(`start ${e.pbxCallId} ${e.kind}`);
        // Call A's ringing handler is slow (held until released); everything else is quick.
        if (e.pbxCallId === 'A' && e.kind === 'ringing') await new Promise<void>((r) => release.set('A', r));
        log.push(`end ${e.pbxCallId} ${e.kind}`);
      },
      coverageTickMs: 60_000,
    });
    await sup.start();
    fake.emit(event('A', 'ringing'));
    fake.emit(event('A', 'answered'));
    fake.emit(event('B', 'ringing'));
    // Every handler started as its event was heard; only A's ringing is still in progress.
    expect(log).toEqual(['start A ringing', 'start A answered', 'end A answered', 'start B ringing', 'end B ringing']);
    const stopping = sup.stop().then(() => { log.push('stopped'); });
    // Time enough for the rest of stop (disconnect, the marks file written) to finish were it not waiting for A; a
    // busier machine only makes the check weaker, never false.
    await Promise.race([stopping, new Promise((r) => setTimeout(r, 500))]);
    release.get('A')?.();
    await stopping;
    expect(log.slice(-2)).toEqual(['end A ringing', 'stopped']);
  });
});
