import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createCallsService, type CallsPart } from '../../../server/calls/index.js';
import type { BitrixClients } from '../../../server/bitrix/types.js';
import { loadConfig } from '../../../server/config.js';
import { createPbxSupervisor, type PbxSupervisor } from '../../../server/pbx/supervisor.js';
import { yeastarBrand } from '../../../server/pbx/yeastar/brand.js';
import { openStore } from '../../../server/store/index.js';
import { DEFAULT_SETTINGS, type CrmRef } from '../../../server/store/records.js';
import type { Store } from '../../../server/store/types.js';
import { startYeastarEmulator, type ScenarioName, type YeastarEmulator } from '../../emulators/yeastar/harness.js';
import { FakeContacts, FakeOutbox, portal } from '../../unit/calls/fakes.js';

/**
 * The PBX half of the call flow for real: Yeastar emulator → WebSocket → adapter → supervisor (gap recovery) →
 * calls service → the exact Bitrix24 writes it queues (a recording outbox stands in for Bitrix24 here; the
 * outbox → Bitrix24 emulator half is covered by the outbox's own tests and the full-stack test of startServer).
 */

const P = 'member-calls-int';
const CONTACT: CrmRef = { entityType: 'CONTACT', entityId: 797 };
const EXTERNAL_E164 = '+15550123456';
const log = pino({ level: process.env['TEST_LOG'] ?? 'silent' });

const clients: BitrixClients = {
  forPortal: (memberId) => ({
    memberId,
    call: async <T>() => ({ ASSIGNED_BY_ID: '11' }) as T,
    list: async () => [],
    batch: async () => ({ results: {}, errors: {} }),
  }),
  requestCount: () => 0,
};

async function waitFor<T>(probe: () => T | undefined | false, ms: number, what: string): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('calls against the Yeastar emulator', () => {
  let dir: string;
  let pbx: YeastarEmulator;
  let store: Store;
  let supervisor: PbxSupervisor;
  let calls: CallsPart;
  let outbox: FakeOutbox;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'calls-int-'));
    pbx = await startYeastarEmulator({ speed: 1000 });
    store = await openStore({ dataDir: dir, secretKey: randomBytes(32).toString('hex'), log });
    await store.portals.put(portal(P, 'line-1'));
    await store.settings.put(P, {
      ...DEFAULT_SETTINGS, enabled: true, defaultCountry: 'US',
      pbx: { baseUrl: pbx.url, clientId: pbx.clientId, clientSecret: pbx.clientSecret, events: 'websocket', webhookSecret: '' },
    });
    await store.bindings.replace(P, [
      { userId: 11, extension: '1001', source: 'manual' },
      { userId: 12, extension: '1002', source: 'manual' },
      { userId: 13, extension: '1003', source: 'manual' },
    ]);
    outbox = new FakeOutbox();
    const holder: { calls?: CallsPart } = {};
    supervisor = createPbxSupervisor({
      store, log, config: loadConfig({ DATA_DIR: dir, PBX_ALLOW_LOOPBACK: '1' }),
      onCallEvent: async (e) => { await holder.calls?.service.handleEvent(e); },
      ...yeastarBrand({ settleMs: 200, heartbeatMs: 1_000, backoffInitialMs: 50, backoffMaxMs: 300 }),
      recoveryMarginMs: 60_000, coverageTickMs: 200, recoveryRetryMs: 200, recoveryTailMs: 1_000,
    });
    calls = createCallsService({
      log, store, outbox, clients, contacts: new FakeContacts(async () => CONTACT),
      adapterFor: (p) => supervisor.adapter(p),
      options: { cdrWaitMs: 5_000, recordings: { retryBaseMs: 50, maxAttempts: 3 } },
    });
    holder.calls = calls;
    await calls.start();
    await supervisor.start();
    await waitFor(() => supervisor.status(P).state === 'connected', 10_000, 'PBX link');
  });

  afterAll(async () => {
    calls?.stop();
    await supervisor?.stop();
    await store?.close();
    await pbx?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  beforeEach(() => { outbox.items.splice(0); });

  const itemsOf = (callId: string, method?: string) =>
    outbox.items.filter((i) => i.meta?.pbxCallId === callId && (method === undefined || i.method === method));

  async function play(name: ScenarioName, opts: Parameters<YeastarEmulator['scenario']>[1] = {}) {
    const { callId } = await pbx.scenario(name, { wait: true, ...opts });
    await waitFor(() => store.calls.get(P, callId)?.phase === 'logged' || store.calls.get(P, callId)?.phase === 'ignored', 8_000, `${name} logged`);
    await new Promise((r) => setTimeout(r, 200));
    return { callId, record: store.calls.get(P, callId), methods: itemsOf(callId).map((i) => i.method) };
  }

  it('inbound answered: register TYPE 2 (user, E.164 number, SHOW 1, unique id, CRM) → finish 200 with talk time → attachRecord with a playable WAV', async () => {
    const { callId, methods } = await play('inbound-answered', { to: '1001', talkSeconds: 42, record: true });
    expect(methods).toEqual(['telephony.externalCall.register', 'telephony.externalCall.finish', 'telephony.externalCall.attachRecord']);
    const register = itemsOf(callId, 'telephony.externalCall.register')[0];
    expect(register?.params).toMatchObject({
      TYPE: 2, USER_ID: 11, PHONE_NUMBER: EXTERNAL_E164, SHOW: 1, LINE_NUMBER: 'line-1', CRM_ENTITY_TYPE: 'CONTACT', CRM_ENTITY_ID: 797,
    });
    expect(String(register?.params.EXTERNAL_CALL_ID)).toContain(callId);
    expect(itemsOf(callId, 'telephony.externalCall.finish')[0]?.params).toMatchObject({ USER_ID: 11, DURATION: 42, STATUS_CODE: '200' });
    if (!register) throw new Error('no register');
    await outbox.complete(register, { CALL_ID: `externalCall.${callId}` });
    const attach = await waitFor(() => itemsOf(callId, 'telephony.externalCall.attachRecord')[0], 5_000, 'attachRecord');
    // Queued with the finish, it takes the CALL_ID from the finish's answer: sent in the same batch, after it.
    const finish = itemsOf(callId, 'telephony.externalCall.finish')[0];
    expect(attach.params.CALL_ID).toEqual({ $ref: finish?.id, path: ['CALL_ID'] });
    expect(attach.seq).toBe((finish?.seq ?? 0) + 1);
    expect(String(attach.params.FILENAME)).toMatch(/\.wav$/);
    const wavBytes = Buffer.from(String(attach.params.FILE_CONTENT), 'base64');
    expect(wavBytes.toString('ascii', 0, 4)).toBe('RIFF');
    expect(wavBytes.toString('ascii', 8, 12)).toBe('WAVE');
  });

  it('inbound missed and busy: finish 304 / 486 with DURATION 0', async () => {
    const missed = await play('inbound-missed', { to: '1002' });
    expect(itemsOf(missed.callId, 'telephony.externalCall.finish')[0]?.params).toMatchObject({ USER_ID: 12, DURATION: 0, STATUS_CODE: '304' });
    const busy = await play('inbound-busy', { to: '1003' });
    expect(itemsOf(busy.callId, 'telephony.externalCall.finish')[0]?.params).toMatchObject({ USER_ID: 13, DURATION: 0, STATUS_CODE: '486' });
  });

  it('ring group: show to the other ringing users, hide on answer, exactly one finish to the answerer', async () => {
    const { callId, methods } = await play('ring-group', { to: ['1001', '1002', '1003'], answeredBy: '1002', talkSeconds: 20 });
    expect(methods.filter((m) => m === 'telephony.externalCall.register')).toHaveLength(1);
    expect(methods.filter((m) => m === 'telephony.externalCall.finish')).toHaveLength(1);
    const shown = itemsOf(callId, 'telephony.externalCall.show').flatMap((i) => i.params.USER_ID as number[]);
    const hidden = itemsOf(callId, 'telephony.externalCall.hide').flatMap((i) => i.params.USER_ID as number[]);
    const registeredFor = itemsOf(callId, 'telephony.externalCall.register')[0]?.params.USER_ID as number;
    expect(new Set([registeredFor, ...shown])).toEqual(new Set([11, 12, 13]));
    expect(new Set(hidden)).toEqual(new Set([11, 13]));
    expect(itemsOf(callId, 'telephony.externalCall.finish')[0]?.params).toMatchObject({ USER_ID: 12, DURATION: 20, STATUS_CODE: '200' });
  });

  it('queue behind an IVR: one call logged, credited to the agent', async () => {
    const { callId, methods } = await play('queue-ivr', { to: ['1001', '1003'], answeredBy: '1003', talkSeconds: 30 });
    expect(methods.filter((m) => m === 'telephony.externalCall.finish')).toHaveLength(1);
    expect(itemsOf(callId, 'telephony.externalCall.finish')[0]?.params).toMatchObject({ USER_ID: 13, DURATION: 30, STATUS_CODE: '200' });
  });

  it('blind transfer: the card moves and the new user is credited', async () => {
    const { callId } = await play('blind-transfer', { to: ['1001', '1002'], talkSeconds: 15 });
    expect(itemsOf(callId, 'telephony.externalCall.finish')[0]?.params).toMatchObject({ USER_ID: 12 });
  });

  it('outbound answered and failed: TYPE 1 for the calling user; the failure code from the PBX reason', async () => {
    const ok = await play('outbound-answered', { from: '1002', to: '+15550123456', talkSeconds: 9 });
    expect(itemsOf(ok.callId, 'telephony.externalCall.register')[0]?.params).toMatchObject({ TYPE: 1, USER_ID: 12, PHONE_NUMBER: EXTERNAL_E164 });
    expect(itemsOf(ok.callId, 'telephony.externalCall.finish')[0]?.params).toMatchObject({ USER_ID: 12, DURATION: 9, STATUS_CODE: '200' });
    const failed = await play('outbound-failed', { from: '1001', to: '+15550123456', reason: '404 NOT found' });
    expect(itemsOf(failed.callId, 'telephony.externalCall.finish')[0]?.params).toMatchObject({ USER_ID: 11, DURATION: 0, STATUS_CODE: '404' });
  });

  it('internal call: nothing logged', async () => {
    const { record, methods } = await play('internal', { from: '1001', to: '1002' });
    expect(methods).toEqual([]);
    expect(record?.phase).toBe('ignored');
  });

  it('click-to-call: call/dial with the bound extension as caller, finish on the event CALL_ID, no register', async () => {
    await pbx.setDialBehavior({ callerAnswers: true, calleeAnswers: true, talkSeconds: 7, record: true, hold: false });
    await pbx.clearRequests();
    await calls.telephony.externalCallStart(P, {
      b24CallId: 'externalCall.click-1', phoneNumber: '+1 555 012 3456', userId: 12, lineNumber: 'line-1', crm: CONTACT, callListId: 0, isMobile: false,
    });
    const dial = (await pbx.requests()).find((r) => r.path.includes('/call/dial'));
    // As dialed from the US (phone.ts dialNumber): 1 + ten digits.
    expect(dial?.body).toMatchObject({ caller: '1002', callee: EXTERNAL_E164.slice(1) });
    const record = await waitFor(() => {
      const r = store.calls.getByB24CallId(P, 'externalCall.click-1');
      return r?.phase === 'logged' ? r : undefined;
    }, 8_000, 'click-to-call logged');
    expect(record.origin).toBe('click-to-call');
    expect(itemsOf(record.pbxCallId, 'telephony.externalCall.register')).toEqual([]);
    expect(itemsOf(record.pbxCallId, 'telephony.externalCall.finish')[0]?.params).toMatchObject({
      CALL_ID: 'externalCall.click-1', USER_ID: 12, DURATION: 7, STATUS_CODE: '200',
    });
    await waitFor(() => itemsOf(record.pbxCallId, 'telephony.externalCall.attachRecord')[0], 5_000, 'click-to-call recording');
  });

  it('PBX link cut mid-call: the call is still logged exactly once, with its recording', async () => {
    const { callId } = await pbx.scenario('inbound-answered', { to: '1001', talkSeconds: 3, record: true, hold: true });
    await waitFor(() => itemsOf(callId, 'telephony.externalCall.register')[0], 5_000, 'register before the cut');
    expect(await pbx.cutConnections({ forMs: 1_500 })).toBeGreaterThan(0);
    // The call ends (its CDR written) while the link is down: only the supervisor's recovery (cdr/search) can bring it back.
    await pbx.continue(callId);
    const until = Date.now() + 1_000;
    while (!(await pbx.cdr()).some((row) => row.call_id === callId)) {
      if (Date.now() > until) throw new Error('the emulator wrote no CDR for the call while the link was down');
      await new Promise((r) => setTimeout(r, 20));
    }
    const record = await waitFor(() => {
      const r = store.calls.get(P, callId);
      return r?.phase === 'logged' ? r : undefined;
    }, 10_000, 'call logged after the link came back');
    expect(record.talkSeconds).toBe(3);
    await new Promise((r) => setTimeout(r, 500));
    expect(itemsOf(callId, 'telephony.externalCall.register')).toHaveLength(1);
    expect(itemsOf(callId, 'telephony.externalCall.finish')).toHaveLength(1);
    expect(itemsOf(callId, 'telephony.externalCall.finish')[0]?.params).toMatchObject({ USER_ID: 11, DURATION: 3, STATUS_CODE: '200' });
    const register = itemsOf(callId, 'telephony.externalCall.register')[0];
    if (!register) throw new Error('no register');
    await outbox.complete(register, { CALL_ID: `externalCall.${callId}` });
    await waitFor(() => itemsOf(callId, 'telephony.externalCall.attachRecord')[0], 5_000, 'recording after the cut');
  });
});
