import { afterEach, describe, expect, it, vi } from 'vitest';
import { createCallsService, type CallsPart } from '../../../server/calls/index.js';
import { registerItemId } from '../../../server/calls/outbox-items.js';
import type { BitrixClients } from '../../../server/bitrix/types.js';
import type { CallDetail, CallEvent, CallExtension } from '../../../server/pbx/adapter.js';
import type { CrmRef } from '../../../server/store/records.js';
import {
  FakeContacts, FakeOutbox, FakePbx, MemoryBindings, MemoryCalls, MemoryPortals, MemorySettings, flush, portal, silentLog, wav,
} from './fakes.js';

const P = 'p1';
const CONTACT: CrmRef = { entityType: 'CONTACT', entityId: 797 };

interface Harness {
  part: CallsPart;
  outbox: FakeOutbox;
  calls: MemoryCalls;
  contacts: FakeContacts;
  pbx: FakePbx;
  uploads: { url: string; fieldName: string; filename: string; size: number }[];
  clientCalls: { method: string; params: unknown }[];
}

const parts: CallsPart[] = [];
afterEach(() => { for (const p of parts.splice(0)) p.stop(); });

async function harness(over: { calls?: MemoryCalls; outbox?: FakeOutbox; contacts?: FakeContacts; settings?: Record<string, unknown>; inlineMaxBytes?: number } = {}): Promise<Harness> {
  const outbox = over.outbox ?? new FakeOutbox();
  const calls = over.calls ?? new MemoryCalls();
  const contacts = over.contacts ?? new FakeContacts(async () => CONTACT);
  const pbx = new FakePbx();
  const uploads: Harness['uploads'] = [];
  const clientCalls: Harness['clientCalls'] = [];
  const clients: BitrixClients = {
    forPortal: (memberId) => ({
      memberId,
      call: async <T>(method: string, params?: Record<string, unknown>) => { clientCalls.push({ method, params }); return { ASSIGNED_BY_ID: '12' } as T; },
      list: async () => [],
      batch: async () => ({ results: {}, errors: {} }),
    }),
    requestCount: () => 0,
  };
  const part = createCallsService({
    log: silentLog(),
    store: {
      calls,
      bindings: new MemoryBindings({ [P]: [
        { userId: 11, extension: '1001', source: 'manual' }, { userId: 12, extension: '1002', source: 'manual' }, { userId: 13, extension: '1003', source: 'email' },
      ] }),
      settings: new MemorySettings({ [P]: { enabled: true, defaultCountry: 'US', ...over.settings } }),
      portals: new MemoryPortals([portal(P, 'line-7')]),
    },
    outbox,
    contacts,
    clients,
    adapterFor: (p) => (p === P ? pbx : undefined),
    uploader: {
      upload: async (url, fieldName, file) => {
        let size = 0;
        for await (const chunk of file.stream) size += (chunk as Buffer).length;
        uploads.push({ url, fieldName, filename: file.filename, size });
      },
    },
    options: {
      cdrWaitMs: 40, lookupTimeoutMs: 40, dialCorrelationMs: 500,
      recordings: { retryBaseMs: 5, maxAttempts: 3, inlineMaxBytes: over.inlineMaxBytes ?? 100_000 },
    },
  });
  parts.push(part);
  await part.start();
  return { part, outbox, calls, contacts, pbx, uploads, clientCalls };
}

let clock = 1_700_000_000_000;
function ev(id: string, kind: CallEvent['kind'], exts: [string, CallExtension['state']][] = [], extra: Partial<CallEvent> = {}): CallEvent {
  clock += 1000;
  return {
    portal: P, pbxCallId: id, at: clock, kind, direction: 'inbound', external: '4155550123', did: '5550100',
    extensions: exts.map(([number, state]) => ({ number, state })), ...extra,
  };
}
const cdr = (id: string, detail: Partial<CallDetail>, extra: Partial<CallEvent> = {}) =>
  ev(id, 'cdr', [], { cdr: { result: 'answered', talkSeconds: 0, callSeconds: 0, ...detail }, ...extra });
const waitFor = async (check: () => boolean, ms = 2000) => {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('calls service', () => {
  it('inbound answered: register with the CRM binding, finish by reference, CALL_ID stored, recording attached inline after finish', async () => {
    const h = await harness();
    h.pbx.recordings.set('rec-1', wav());
    const s = h.part.service;
    await s.handleEvent(ev('c1', 'ringing', [['1001', 'ringing']]));
    const register = h.outbox.one('telephony.externalCall.register');
    expect(register.params).toMatchObject({
      USER_ID: 11, PHONE_NUMBER: '+14155550123', TYPE: 2, SHOW: 1, LINE_NUMBER: 'line-7', CRM_ENTITY_TYPE: 'CONTACT', CRM_ENTITY_ID: 797, CRM_CREATE: 0,
    });
    expect(String(register.params.EXTERNAL_CALL_ID)).toMatch(/^c1-\d+$/);
    expect(register.id).toBe(registerItemId(P, 'c1'));
    expect(h.contacts.lookups).toEqual([{ portal: P, e164: '+14155550123', userId: 11 }]);

    await s.handleEvent(ev('c1', 'answered', [['1001', 'answered']]));
    await s.handleEvent(ev('c1', 'ended'));
    await s.handleEvent(cdr('c1', { result: 'answered', talkSeconds: 42, answeredBy: '1001', recording: { ref: 'rec-1', filename: 'rec-1.wav' } }));
    const finish = h.outbox.one('telephony.externalCall.finish');
    expect(finish.params).toMatchObject({ CALL_ID: { $ref: registerItemId(P, 'c1'), path: ['CALL_ID'] }, USER_ID: 11, DURATION: 42, STATUS_CODE: '200' });
    expect(finish.group).toBe(register.group);

    await h.outbox.complete(register, { CALL_ID: 'externalCall.abc', CRM_ENTITY_TYPE: 'CONTACT', CRM_ENTITY_ID: 797 });
    await waitFor(() => h.outbox.byMethod('telephony.externalCall.attachRecord').length === 1);
    const attach = h.outbox.one('telephony.externalCall.attachRecord');
    expect(attach.seq).toBeGreaterThan(finish.seq);
    expect(attach.group).toBe(register.group);
    expect(attach.params.FILENAME).toBe('rec-1.wav');
    expect(Buffer.from(String(attach.params.FILE_CONTENT), 'base64').equals(wav())).toBe(true);
    await h.outbox.complete(attach, { FILE_ID: 9 });
    const record = h.calls.get(P, 'c1');
    expect(record).toMatchObject({
      b24CallId: 'externalCall.abc', phase: 'logged', result: 'answered', talkSeconds: 42, userId: 11, answeredBy: '1001',
      crm: CONTACT, recordingState: 'attached', external: '+14155550123', did: '5550100',
    });
    expect(h.contacts.synced).toEqual([CONTACT]);
  });

  it('duplicate events never enqueue a write twice', async () => {
    const h = await harness();
    const ring = ev('c2', 'ringing', [['1001', 'ringing'], ['1002', 'ringing']]);
    const end = ev('c2', 'ended');
    const c = cdr('c2', { result: 'missed' });
    for (const e of [ring, ring, end, end, c, c]) await h.part.service.handleEvent(e);
    expect(h.outbox.items.map((i) => i.method)).toEqual([
      'telephony.externalCall.register', 'telephony.externalCall.show', 'telephony.externalCall.finish',
    ]);
    expect(h.outbox.one('telephony.externalCall.finish').params).toMatchObject({ STATUS_CODE: '304', DURATION: 0, USER_ID: 11 });
  });

  it('a slow CRM lookup holds the screen pop only for the bounded time, then registers without a binding', async () => {
    const never = new FakeContacts(() => new Promise(() => undefined));
    const h = await harness({ contacts: never });
    // A fake clock, not a stopwatch: the event is handled once the 40 ms lookup bound passes, never before, and the
    // lookup that never answers does not hold it longer.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let handled = false;
    try {
      const handling = h.part.service.handleEvent(ev('c3', 'ringing', [['1001', 'ringing']])).then(() => { handled = true; });
      await vi.advanceTimersByTimeAsync(39);
      expect(handled).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      await handling;
      expect(handled).toBe(true);
    } finally {
      vi.useRealTimers();
    }
    const params = h.outbox.one('telephony.externalCall.register').params;
    expect(params.CRM_ENTITY_ID).toBeUndefined();
  });

  it('no CDR after ended: the bounded wait logs the call from the live events', async () => {
    const h = await harness();
    await h.part.service.handleEvent(ev('c4', 'ringing', [['1002', 'ringing']]));
    await h.part.service.handleEvent(ev('c4', 'failed', [], { reason: '486 Busy Here' }));
    await waitFor(() => h.outbox.byMethod('telephony.externalCall.finish').length === 1);
    expect(h.outbox.one('telephony.externalCall.finish').params).toMatchObject({ USER_ID: 12, STATUS_CODE: '486', DURATION: 0 });
    expect(h.calls.get(P, 'c4')?.note).toMatch(/no CDR/);
  });

  it('restart mid-call: the new process resumes the CDR wait and logs the call exactly once', async () => {
    const calls = new MemoryCalls();
    const outbox = new FakeOutbox();
    const first = await harness({ calls, outbox });
    await first.part.service.handleEvent(ev('c5', 'ringing', [['1001', 'ringing']]));
    await first.part.service.handleEvent(ev('c5', 'answered', [['1001', 'answered']]));
    await first.part.service.handleEvent(ev('c5', 'ended'));
    first.part.stop(); // the process dies before the wait ran out
    expect(outbox.byMethod('telephony.externalCall.finish')).toHaveLength(0);
    await harness({ calls, outbox });
    await waitFor(() => outbox.byMethod('telephony.externalCall.finish').length === 1);
    await new Promise((r) => setTimeout(r, 80));
    expect(outbox.byMethod('telephony.externalCall.finish')).toHaveLength(1);
    expect(outbox.byMethod('telephony.externalCall.register')).toHaveLength(1);
  });

  it('a crash between persisting and enqueueing: the intents are kept with the call and redone at start', async () => {
    const calls = new MemoryCalls();
    const outbox = new FakeOutbox();
    const first = await harness({ calls, outbox });
    outbox.failNext = true;
    await expect(first.part.service.handleEvent(ev('c6', 'ringing', [['1003', 'ringing']]))).rejects.toThrow(/ENOSPC/);
    expect(calls.get(P, 'c6')?.phase).toBe('live');
    first.part.stop();
    await harness({ calls, outbox });
    expect(outbox.one('telephony.externalCall.register').params).toMatchObject({ USER_ID: 13 });
  });

  it('register parked for good: the call still lands in the CRM as a call activity', async () => {
    const h = await harness();
    await h.part.service.handleEvent(ev('c7', 'ringing', [['1001', 'ringing']]));
    await h.part.service.handleEvent(cdr('c7', { result: 'answered', talkSeconds: 75, answeredBy: '1001' }));
    await h.outbox.park(h.outbox.one('telephony.externalCall.register'), 'ERROR_CORE: User is not found or is not active');
    await h.outbox.park(h.outbox.one('telephony.externalCall.finish'), 'ERROR_CORE: Call is not found');
    const activity = h.outbox.one('crm.activity.add');
    expect(activity.params).toMatchObject({
      fields: { OWNER_TYPE_ID: 3, OWNER_ID: 797, TYPE_ID: 2, RESPONSIBLE_ID: 11, DIRECTION: 1, COMPLETED: 'Y',
        COMMUNICATIONS: [{ VALUE: '+14155550123', ENTITY_ID: 797, ENTITY_TYPE_ID: 3 }] },
    });
    expect(String((activity.params.fields as Record<string, unknown>).DESCRIPTION)).toMatch(/answered.*1:15/);
    expect(activity.group).not.toBe(h.outbox.one('telephony.externalCall.register').group);
  });

  it('internal calls and calls of unbound extensions only write nothing', async () => {
    const h = await harness();
    await h.part.service.handleEvent(ev('c8', 'ringing', [['1001', 'calling'], ['1002', 'ringing']], { direction: 'internal', external: '' }));
    await h.part.service.handleEvent(cdr('c8', { result: 'answered', talkSeconds: 3 }, { direction: 'internal', external: '' }));
    await h.part.service.handleEvent(ev('c9', 'ringing', [['2001', 'ringing']]));
    await h.part.service.handleEvent(cdr('c9', { result: 'missed' }));
    expect(h.outbox.items).toEqual([]);
    expect(h.calls.get(P, 'c8')?.phase).toBe('ignored');
    expect(h.calls.get(P, 'c9')?.phase).toBe('ignored');
  });

  it('recording missing on the PBX: retried with backoff, then failed with the reason, other calls unaffected', async () => {
    const h = await harness();
    await h.part.service.handleEvent(ev('c10', 'ringing', [['1001', 'ringing']]));
    await h.part.service.handleEvent(cdr('c10', { result: 'answered', talkSeconds: 5, answeredBy: '1001', recording: { ref: 'gone', filename: 'gone.wav' } }));
    await waitFor(() => h.calls.get(P, 'c10')?.recordingState === 'failed');
    // One try to send it with the finish, then the bounded retries (maxAttempts 3).
    expect(h.pbx.downloads).toBe(4);
    expect(h.calls.get(P, 'c10')?.recordingError).toMatch(/RECORDING_NOT_FOUND/);
    expect(h.outbox.byMethod('telephony.externalCall.attachRecord')).toHaveLength(0);
  });

  it('large recording: FILENAME alone, then the file goes to the upload URL Bitrix24 answered', async () => {
    const h = await harness({ inlineMaxBytes: 100 });
    h.pbx.recordings.set('big', wav(4000));
    await h.part.service.handleEvent(ev('c11', 'ringing', [['1001', 'ringing']]));
    await h.part.service.handleEvent(cdr('c11', { result: 'answered', talkSeconds: 5, answeredBy: '1001', recording: { ref: 'big', filename: 'big.wav' } }));
    await waitFor(() => h.outbox.byMethod('telephony.externalCall.attachRecord').length === 1);
    const attach = h.outbox.one('telephony.externalCall.attachRecord');
    expect(attach.params.FILE_CONTENT).toBeUndefined();
    await h.outbox.complete(attach, { uploadUrl: 'https://p1.bitrix24.test/rest/upload.json?token=t', fieldName: 'file' });
    expect(h.uploads).toEqual([{ url: 'https://p1.bitrix24.test/rest/upload.json?token=t', fieldName: 'file', filename: 'big.wav', size: wav(4000).length }]);
    expect(h.calls.get(P, 'c11')?.recordingState).toBe('attached');
  });
});

describe('click-to-call and callback', () => {
  const start = (b24CallId: string, userId = 11) => ({
    b24CallId, phoneNumber: '+1 415 555 0123', userId, lineNumber: 'line-7', crm: CONTACT, callListId: 0, isMobile: false,
  });

  it('dials through the bound extension, correlates the PBX call before its events, never registers, finishes the event CALL_ID', async () => {
    const h = await harness();
    let releaseDial: () => void = () => undefined;
    h.pbx.dialResult = () => new Promise((resolve) => { releaseDial = () => resolve({ pbxCallId: 'k1' }); });
    const handling = h.part.telephony.externalCallStart(P, start('externalCall.k1'));
    await flush();
    // The PBX reports the agent's phone ringing before call/dial answered.
    const early = h.part.service.handleEvent(ev('k1', 'ringing', [['1001', 'ringing']], { direction: 'internal', external: '' }));
    await flush();
    releaseDial();
    await handling;
    await early;
    await h.part.service.handleEvent(ev('k1', 'answered', [['1001', 'answered']], { direction: 'outbound' }));
    await h.part.service.handleEvent(cdr('k1', { result: 'answered', talkSeconds: 12, placedBy: '1001' }, { direction: 'outbound' }));
    expect(h.pbx.dials).toEqual([{ extension: '1001', number: '14155550123' }]); // as dialed from the portal's country (US): phone.ts dialNumber
    expect(h.outbox.byMethod('telephony.externalCall.register')).toHaveLength(0);
    expect(h.outbox.one('telephony.externalCall.finish').params).toMatchObject({ CALL_ID: 'externalCall.k1', USER_ID: 11, DURATION: 12, STATUS_CODE: '200' });
    expect(h.calls.get(P, 'k1')).toMatchObject({ origin: 'click-to-call', b24CallId: 'externalCall.k1', crm: CONTACT, phase: 'logged' });
  });

  it('the same event twice dials once', async () => {
    const h = await harness();
    await Promise.all([h.part.telephony.externalCallStart(P, start('externalCall.k2')), h.part.telephony.externalCallStart(P, start('externalCall.k2'))]);
    await h.part.telephony.externalCallStart(P, start('externalCall.k2'));
    expect(h.pbx.dials).toHaveLength(1);
  });

  it('the same click delivered under two CALL_IDs dials once while the first call runs; once it ended, calling again dials', async () => {
    const h = await harness();
    h.pbx.dialResult = async () => ({ pbxCallId: `d${h.pbx.dials.length}` });
    await h.part.telephony.externalCallStart(P, start('externalCall.a'));
    await h.part.telephony.externalCallStart(P, start('externalCall.b'));
    expect(h.pbx.dials).toHaveLength(1);
    expect(h.outbox.items.filter((i) => i.method === 'telephony.externalCall.finish').map((i) => i.params))
      .toEqual([expect.objectContaining({ CALL_ID: 'externalCall.b', STATUS_CODE: '603-S' })]);
    await h.part.service.handleEvent(cdr('d1', { result: 'answered', talkSeconds: 2, placedBy: '1001' }, { direction: 'outbound' }));
    await h.part.telephony.externalCallStart(P, start('externalCall.c'));
    expect(h.pbx.dials).toHaveLength(2);
  });

  it('a repeated callback request for the same number dials once', async () => {
    const h = await harness();
    const request = { phoneNumber: '4155550123', text: '', lineNumber: 'line-7', crm: null };
    await h.part.telephony.externalCallbackStart(P, request);
    await h.part.telephony.externalCallbackStart(P, request);
    expect(h.pbx.dials).toHaveLength(1);
  });

  it('a user without an extension is told so, and the CALL_ID is finished as failed', async () => {
    const h = await harness();
    await h.part.telephony.externalCallStart(P, start('externalCall.k3', 99));
    expect(h.pbx.dials).toEqual([]);
    expect(h.outbox.one('im.notify.system.add').params).toMatchObject({ USER_ID: 99, MESSAGE: expect.stringMatching(/no PBX extension/) });
    expect(h.outbox.one('telephony.externalCall.finish').params).toMatchObject({ CALL_ID: 'externalCall.k3', USER_ID: 99, STATUS_CODE: '603', DURATION: 0 });
  });

  it('callback: dials through the responsible user of the CRM record and registers TYPE 4 for them', async () => {
    const h = await harness();
    h.pbx.dialResult = async () => ({ pbxCallId: 'cb1' });
    await h.part.telephony.externalCallbackStart(P, { phoneNumber: '4155550123', text: 'Please call me about my order', lineNumber: 'line-7', crm: CONTACT });
    expect(h.clientCalls).toEqual([{ method: 'crm.contact.get', params: { id: 797 } }]);
    expect(h.pbx.dials).toEqual([{ extension: '1002', number: '14155550123' }]); // as dialed from the US
    expect(h.outbox.one('telephony.externalCall.register').params).toMatchObject({ TYPE: 4, USER_ID: 12, SHOW: 1, CRM_ENTITY_ID: 797 });
    expect(h.outbox.one('im.notify.system.add').params).toMatchObject({ USER_ID: 12, MESSAGE: expect.stringMatching(/order/) });
    await h.part.service.handleEvent(cdr('cb1', { result: 'answered', talkSeconds: 4, placedBy: '1002' }, { direction: 'outbound' }));
    expect(h.outbox.one('telephony.externalCall.finish').params).toMatchObject({ USER_ID: 12, STATUS_CODE: '200' });
    expect(h.calls.get(P, 'cb1')?.origin).toBe('callback');
  });
});
