import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BitrixClients } from '../../../server/bitrix/types.js';
import { createCallsService, type CallsPart } from '../../../server/calls/index.js';
import { loadConfig } from '../../../server/config.js';
import type { CallEvent, CallExtension } from '../../../server/pbx/adapter.js';
import { createPbxSupervisor, type PbxSupervisor } from '../../../server/pbx/supervisor.js';
import { DEFAULT_SETTINGS, type CallRecord, type CrmRef } from '../../../server/store/records.js';
import { memoryStore, portal as linkPortal } from '../../integration/pbx/memory-store.js';
import {
  FakeContacts, FakeOutbox, FakePbx, MemoryBindings, MemoryCalls, MemoryPortals, MemorySettings, flush, portal, silentLog,
} from './fakes.js';

/**
 * One owner of a call's order (issue 15 point 3): the PBX supervisor hands events on as they come, the calls service
 * orders them. What a person relies on, through both as the product wires them: one call's events are handled one
 * after another in the order the PBX sent them, and a slow call (its CRM lookup) never holds another call's screen
 * pop. Every wait here is on an event the test controls, never on the clock.
 */
const P = 'm1';
const CONTACT: CrmRef = { entityType: 'CONTACT', entityId: 797 };
const SLOW_NUMBER = '4155550001';
const QUICK_NUMBER = '4155550002';

/** The calls repository, telling what each write of a call held: ringing (not answered yet) or answered. */
class WatchedCalls extends MemoryCalls {
  readonly writes: string[] = [];
  override async put(record: CallRecord) {
    this.writes.push(`${record.pbxCallId} ${record.answeredAt === undefined ? 'ringing' : 'answered'}`);
    await super.put(record);
  }
}

function gate(): { opened: Promise<void>; open: () => void } {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => { open = resolve; });
  return { opened, open };
}

async function until(check: () => boolean, what: string): Promise<void> {
  // Bounded by turns of the event loop, not by milliseconds: the wait is for work already queued.
  for (let turn = 0; turn < 10_000; turn += 1) {
    if (check()) return;
    await flush();
  }
  throw new Error(`never happened: ${what}`);
}

let at = 1_700_000_000_000;
function ev(id: string, kind: CallEvent['kind'], external: string, exts: [string, CallExtension['state']][]): CallEvent {
  at += 1000;
  return { portal: P, pbxCallId: id, at, kind, direction: 'inbound', external, extensions: exts.map(([number, state]) => ({ number, state })) };
}

describe('the order of a call\'s events, from the PBX link to the calls service', () => {
  let dataDir: string;
  let supervisor: PbxSupervisor | undefined;
  let calls: CallsPart | undefined;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'call-order-'));
  });
  afterEach(async () => {
    await supervisor?.stop();
    calls?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function wire(contacts: FakeContacts) {
    const pbx = new FakePbx();
    const outbox = new FakeOutbox();
    const records = new WatchedCalls();
    const clients: BitrixClients = {
      forPortal: (memberId) => ({ memberId, call: async <T>() => ({}) as T, list: async () => [], batch: async () => ({ results: {}, errors: {} }) }),
      requestCount: () => 0,
    };
    calls = createCallsService({
      log: silentLog(),
      store: {
        calls: records,
        bindings: new MemoryBindings({ [P]: [{ userId: 11, extension: '1001', source: 'manual' }, { userId: 12, extension: '1002', source: 'manual' }] }),
        settings: new MemorySettings({ [P]: { enabled: true, defaultCountry: 'US' } }),
        portals: new MemoryPortals([portal(P)]),
      },
      outbox, contacts, clients, adapterFor: () => pbx,
      uploader: { upload: async () => undefined },
      // Long bounds: the held lookup and the dial wait end when the test says, not on a timer.
      options: { lookupTimeoutMs: 600_000, dialCorrelationMs: 600_000, cdrWaitMs: 600_000 },
    });
    await calls.start();
    const linkStore = memoryStore();
    void linkStore.portals.put(linkPortal(P));
    linkStore.setSettings(P, { ...DEFAULT_SETTINGS, enabled: true, pbx: { baseUrl: 'http://127.0.0.1:9', clientId: 'c', clientSecret: 's', events: 'websocket', webhookSecret: '' } });
    const service = calls.service;
    supervisor = createPbxSupervisor({
      store: linkStore, log: silentLog(), config: loadConfig({ DATA_DIR: dataDir, PBX_ALLOW_LOOPBACK: '1' }),
      createAdapter: () => pbx, onCallEvent: (e) => service.handleEvent(e), coverageTickMs: 600_000,
    });
    await supervisor.start();
    const registers = () => outbox.items.filter((i) => i.method === 'telephony.externalCall.register').map((i) => i.meta?.pbxCallId);
    return { pbx, outbox, records, service, registers };
  }

  it('handles one call\'s events one after another, in order, while another call goes ahead of a slow one', async () => {
    const slowLookup = gate();
    const contacts = new FakeContacts(async (e164) => {
      if (e164.endsWith(SLOW_NUMBER)) await slowLookup.opened;
      return CONTACT;
    });
    const { pbx, records, registers } = await wire(contacts);
    pbx.emit(ev('A', 'ringing', SLOW_NUMBER, [['1001', 'ringing']]));
    pbx.emit(ev('A', 'answered', SLOW_NUMBER, [['1001', 'answered']]));
    pbx.emit(ev('B', 'ringing', QUICK_NUMBER, [['1002', 'ringing']]));

    // B's screen pop went out while A's CRM lookup is still held …
    await until(() => registers().includes('B'), 'the register of call B');
    await flush();
    expect(registers()).toEqual(['B']);
    // … and A's answer waits behind A's ringing: no write of A has it answered yet.
    expect(records.writes.filter((w) => w.startsWith('A'))).toEqual(['A ringing']);

    slowLookup.open();
    await until(() => records.get(P, 'A')?.answeredAt !== undefined, 'call A answered');
    expect(registers()).toEqual(['B', 'A']);
    const aWrites = records.writes.filter((w) => w.startsWith('A'));
    expect(aWrites[0]).toBe('A ringing');
    expect(aWrites.indexOf('A answered')).toBeGreaterThan(aWrites.lastIndexOf('A ringing'));
  });

  it('a later event of a call does not overtake an earlier one that waits for a click-to-call being recorded', async () => {
    const { pbx, records, service } = await wire(new FakeContacts(async () => CONTACT));
    // Extension 1001 is dialing: a PBX event of an unknown call that involves it waits for the dial to be recorded.
    const dialRecorded = service.expectDial(P, '1001');
    pbx.emit(ev('C', 'ringing', QUICK_NUMBER, [['1001', 'ringing']]));
    // This one does not involve 1001 and, on its own, would not wait.
    pbx.emit(ev('C', 'answered', QUICK_NUMBER, [['1002', 'answered']]));
    try {
      for (let i = 0; i < 20; i += 1) await flush();
      expect(records.writes).toEqual([]);
    } finally {
      dialRecorded();
    }
    await until(() => records.get(P, 'C')?.answeredAt !== undefined, 'call C answered');
    expect(records.writes[0]).toBe('C ringing');
  });
});
