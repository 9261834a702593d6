/**
 * What the PBX supervisor's unit tests stand on: a PBX adapter the test drives (its status, its live events and what
 * its call history answers) and a store with one portal whose PBX is enabled.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { afterEach, beforeEach } from 'vitest';
import { loadConfig, type Config } from '../../../server/config.js';
import type { CallEvent, PbxAdapter, PbxLinkStatus } from '../../../server/pbx/adapter.js';
import { DEFAULT_SETTINGS } from '../../../server/store/records.js';
import { memoryStore, portal } from '../../integration/pbx/memory-store.js';

export function fakeAdapter() {
  let status: PbxLinkStatus = { state: 'disabled' };
  const statusListeners = new Set<(s: PbxLinkStatus) => void>();
  const eventListeners = new Set<(e: CallEvent) => void>();
  const ctl = {
    history: [] as CallEvent[],
    searches: [] as number[],
    setStatus(next: PbxLinkStatus) {
      status = next;
      for (const l of statusListeners) l(next);
    },
    emit(e: CallEvent) {
      for (const l of eventListeners) l(e);
    },
  };
  const adapter: PbxAdapter = {
    connect: async () => ctl.setStatus({ state: 'connected' }),
    disconnect: async () => ctl.setStatus({ state: 'disabled' }),
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
    searchCdr: async (since) => {
      ctl.searches.push(since);
      return ctl.history;
    },
    listPhonebooks: async () => [],
    createPhonebook: async (name) => ({ id: '1', name, contactCount: 0 }),
    upsertContact: async () => '1',
  };
  return { adapter, ctl };
}

/** Portal m1 with its PBX enabled; the address is one nothing listens on, the fake adapter stands in for the PBX. */
export function storeWithEnabledPortal(): ReturnType<typeof memoryStore> {
  const store = memoryStore();
  void store.portals.put(portal('m1'));
  store.setSettings('m1', { ...DEFAULT_SETTINGS, enabled: true, pbx: { baseUrl: 'http://127.0.0.1:9', clientId: 'c', clientSecret: 's', events: 'websocket', webhookSecret: '' } });
  return store;
}

/**
 * A fresh data directory for each test (the supervisor keeps its recovery marks there) and the silent logger and
 * config a supervisor is made with; read `current()` inside a test.
 */
export function supervisorEnvironmentPerTest(prefix: string): { current(): { log: Logger; config: Config } } {
  let dataDir = '';
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), prefix));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });
  return { current: () => ({ log: pino({ level: 'silent' }), config: loadConfig({ DATA_DIR: dataDir, PBX_ALLOW_LOOPBACK: '1' }) }) };
}
