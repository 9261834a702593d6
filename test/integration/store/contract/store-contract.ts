import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, type OutboxItem, type PortalSettings } from '../../../../server/store/records.js';
import type { LinkMarksStore, Store } from '../../../../server/store/types.js';
import { captureLog, makeCall, makePortal, TEST_KEY } from '../../../unit/store/helpers.js';

/**
 * One store's place to live for a test: opened, closed and opened again on the same data (a restart).
 * File: a temp DATA_DIR; PostgreSQL: a fresh database in the file's throwaway cluster.
 */
export interface StoreHarness {
  open(opts?: { secretKey?: string; now?: () => number }): Promise<Store>;
  /** Every byte the store keeps, as text (files, or every table's rows): what an attacker with a backup reads. */
  rawDump(): Promise<string>;
  /** The PBX link marks as the supervisor picks them: the store's own, else DATA_DIR/pbx-links.json. */
  linkMarks(store: Store): LinkMarksStore;
  dispose(): Promise<void>;
}

function item(portal: string, seq: number, overrides: Partial<OutboxItem> = {}): OutboxItem {
  return {
    id: `${portal}-i${seq}`, portal, group: 'g', seq, method: 'telephony.externalCall.register', params: { A: seq, list: [1, 2] },
    status: 'pending', attempts: 0, nextAttemptAt: 0, createdAt: 1, ...overrides,
  };
}

const settingsWithPbx: PortalSettings = {
  ...structuredClone(DEFAULT_SETTINGS),
  enabled: true,
  pbx: { baseUrl: 'https://pbx.example.test', clientId: 'cid', clientSecret: 'pbx-client-SECRET5', events: 'webhook', webhookSecret: 'pbx-hook-SECRET6' },
  defaultCountry: 'DE',
};

/** The same cases for every store: the parts rely on exactly this behaviour, whichever store the operator chose. */
export function defineStoreContract(kind: string, makeHarness: () => Promise<StoreHarness>): void {
  describe(`store contract: ${kind}`, () => {
    let harness: StoreHarness | undefined;
    const opened: Store[] = [];
    const setup = async (): Promise<{ h: StoreHarness; open: (opts?: Parameters<StoreHarness['open']>[0]) => Promise<Store> }> => {
      const h = await makeHarness();
      harness = h;
      return {
        h,
        open: async (opts) => {
          const store = await h.open(opts);
          opened.push(store);
          return store;
        },
      };
    };
    const restart = async (store: Store, open: () => Promise<Store>): Promise<Store> => {
      await store.close();
      opened.splice(opened.indexOf(store), 1);
      return open();
    };

    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close().catch(() => undefined);
      await harness?.dispose();
      harness = undefined;
    });

    it('keeps portals with their secrets across a restart, sealed at rest, concurrent updates both applied', async () => {
      const { h, open } = await setup();
      const store = await open();
      await store.portals.put(makePortal('m1'));
      await store.portals.put(makePortal('m2', { webhookUrl: undefined }));
      await Promise.all([
        store.portals.update('m1', { accessToken: 'new-access-SECRET7' }),
        store.portals.update('m1', { needsReinstall: { at: 5, reason: 'invalid_grant' } }),
      ]);
      await expect(store.portals.update('nope', {})).rejects.toThrow(/NOT_FOUND|not installed/);
      const again = await restart(store, open);
      const m1 = again.portals.get('m1');
      expect(m1?.accessToken).toBe('new-access-SECRET7');
      expect(m1?.refreshToken).toBe('refresh-m1-SECRET3');
      expect(m1?.applicationToken).toBe('app-token-m1-SECRET1');
      expect(m1?.webhookUrl).toBe('https://m1.bitrix24.com/rest/1/hook-SECRET4/');
      expect(m1?.needsReinstall?.reason).toBe('invalid_grant');
      expect(again.portals.get('m2')?.webhookUrl).toBeUndefined();
      expect(again.portals.list().map((p) => p.memberId).sort()).toEqual(['m1', 'm2']);
      const raw = await h.rawDump();
      expect(raw).toContain('enc:v1:');
      for (const secret of ['SECRET1', 'SECRET2', 'SECRET3', 'SECRET4', 'SECRET7']) expect(raw).not.toContain(secret);
      await again.portals.remove('m2');
      const third = await restart(again, open);
      expect(third.portals.list().map((p) => p.memberId)).toEqual(['m1']);
    });

    it('refuses to open with a key that opens none of the stored secrets', async () => {
      const { open } = await setup();
      const store = await open();
      await store.portals.put(makePortal('m1'));
      await store.close();
      opened.splice(0);
      await expect(open({ secretKey: 'b'.repeat(64) })).rejects.toThrow(/SECRET_KEY_MISMATCH|not the key/);
    });

    it('settings: defaults until saved, PBX secrets sealed at rest, kept across a restart, cleared', async () => {
      const { h, open } = await setup();
      const store = await open();
      expect(store.settings.get('m1')).toEqual(DEFAULT_SETTINGS);
      await store.portals.put(makePortal('m1'));
      await store.settings.put('m1', settingsWithPbx);
      await store.settings.put('m2', { ...settingsWithPbx, pbx: null, defaultCountry: 'FR' });
      const again = await restart(store, open);
      expect(again.settings.get('m1')).toEqual(settingsWithPbx);
      expect(again.settings.get('m2').defaultCountry).toBe('FR');
      const raw = await h.rawDump();
      expect(raw).not.toContain('SECRET5');
      expect(raw).not.toContain('SECRET6');
      await again.settings.clear('m1');
      expect(again.settings.get('m1')).toEqual(DEFAULT_SETTINGS);
      const third = await restart(again, open);
      expect(third.settings.get('m1')).toEqual(DEFAULT_SETTINGS);
      expect(third.settings.get('m2').defaultCountry).toBe('FR');
    });

    it('bindings and card modes: replace, look-ups both ways, ring is the default and not kept', async () => {
      const { open } = await setup();
      const store = await open();
      await store.bindings.replace('m1', [{ userId: 1, extension: '1001', source: 'manual' }, { userId: 2, extension: '1002', source: 'email' }]);
      await store.bindings.setCardModes('m1', { 1: 'answer', 2: 'never' });
      await store.bindings.setCardModes('m1', { 2: 'ring' });
      await store.bindings.replace('m2', [{ userId: 9, extension: '1001', source: 'inner' }]);
      const again = await restart(store, open);
      expect(again.bindings.list('m1')).toEqual([{ userId: 1, extension: '1001', source: 'manual' }, { userId: 2, extension: '1002', source: 'email' }]);
      expect(again.bindings.userForExtension('m1', '1002')).toBe(2);
      expect(again.bindings.userForExtension('m2', '1001')).toBe(9);
      expect(again.bindings.extensionForUser('m1', 1)).toBe('1001');
      expect(again.bindings.extensionForUser('m1', 9)).toBeUndefined();
      expect(again.bindings.cardModeFor('m1', 1)).toBe('answer');
      expect(again.bindings.cardModeFor('m1', 2)).toBe('ring');
      expect(again.bindings.cardModes('m1')).toEqual({ 1: 'answer' });
      await again.bindings.replace('m1', []);
      expect(again.bindings.list('m1')).toEqual([]);
      expect(again.bindings.cardModeFor('m1', 1)).toBe('answer');
    });

    it('calls: put/update, look-ups by id, CALL_ID, entity and phone, newest-first pages, open calls, count, restart', async () => {
      const { open } = await setup();
      const store = await open();
      for (let i = 1; i <= 7; i += 1) {
        await store.calls.put(makeCall('m1', `c${i}`, { startedAt: 1_000 * i, external: i % 2 ? '+15550001111' : '+15550002222', phase: 'logged' }));
      }
      await store.calls.put(makeCall('m1', 'c-tie', { startedAt: 3_000, phase: 'logged' }));
      await store.calls.put(makeCall('m2', 'c1', { startedAt: 99_000, phase: 'live' }));
      // An update moves every index: CALL_ID given, CRM entity attached, number corrected, back to live.
      await store.calls.put(makeCall('m1', 'c2', { startedAt: 2_000, external: '+15550003333', b24CallId: 'B24-2', crm: { entityType: 'CONTACT', entityId: 5 }, phase: 'ended' }));
      await store.calls.put(makeCall('m1', 'c4', { startedAt: 4_000, external: '+15550002222', crm: { entityType: 'CONTACT', entityId: 5 }, phase: 'logged', machine: { step: 'x', list: [1, 2] } }));

      const check = (s: Store): void => {
        expect(s.calls.count('m1')).toBe(8);
        expect(s.calls.count('m2')).toBe(1);
        expect(s.calls.get('m1', 'c4')?.machine).toEqual({ step: 'x', list: [1, 2] });
        expect(s.calls.get('m1', 'nope')).toBeUndefined();
        expect(s.calls.has('m1', 'c4')).toBe(true);
        expect(s.calls.has('m1', 'nope')).toBe(false);
        expect(s.calls.has('m2', 'c4')).toBe(false);
        expect(s.calls.getByB24CallId('m1', 'B24-2')?.pbxCallId).toBe('c2');
        expect(s.calls.getByB24CallId('m2', 'B24-2')).toBeUndefined();
        expect(s.calls.listByEntity('m1', 'CONTACT', 5).map((c) => c.pbxCallId)).toEqual(['c4', 'c2']);
        expect(s.calls.listByEntity('m1', 'CONTACT', 5, { before: 4_000 }).map((c) => c.pbxCallId)).toEqual(['c2']);
        expect(s.calls.listByPhone('m1', '+15550002222').map((c) => c.pbxCallId)).toEqual(['c6', 'c4']);
        expect(s.calls.listByPhone('m1', '+15550003333').map((c) => c.pbxCallId)).toEqual(['c2']);
        const first = s.calls.listRecent('m1', { limit: 3 });
        expect(first.map((c) => c.pbxCallId)).toEqual(['c7', 'c6', 'c5']);
        const next = s.calls.listRecent('m1', { limit: 3, before: first[2]?.startedAt ?? 0 });
        expect(next.map((c) => c.pbxCallId)).toEqual(['c4', 'c3', 'c-tie']);
        expect(s.calls.listRecent('m1', { limit: 50, before: 3_000 }).map((c) => c.pbxCallId)).toEqual(['c2', 'c1']);
        expect(s.calls.listOpen().map((c) => `${c.portal}/${c.pbxCallId}`).sort()).toEqual(['m1/c2', 'm2/c1']);
        expect(s.calls.countOpen()).toBe(2);
      };
      check(store);
      const again = await restart(store, open);
      check(again);
      await again.calls.removePortal('m1');
      expect(again.calls.count('m1')).toBe(0);
      expect(again.calls.listOpen().map((c) => c.pbxCallId)).toEqual(['c1']);
      expect(again.calls.countOpen()).toBe(1);
      const third = await restart(again, open);
      expect(third.calls.count('m1')).toBe(0);
      expect(third.calls.count('m2')).toBe(1);
    });

    it('calls: a burst of unawaited updates of one call keeps the last one', async () => {
      const { open } = await setup();
      const store = await open();
      const writes: Promise<void>[] = [];
      for (let v = 1; v <= 30; v += 1) writes.push(store.calls.put(makeCall('m1', 'c1', { talkSeconds: v, updatedAt: v })));
      await Promise.all(writes);
      const again = await restart(store, open);
      expect(again.calls.get('m1', 'c1')?.talkSeconds).toBe(30);
    });

    it('outbox: enqueue (key idempotent), order by seq, complete, park, undelivered, resume pending after a restart', async () => {
      const { open } = await setup();
      const store = await open();
      const s1 = store.outbox.nextSeq();
      const s2 = store.outbox.nextSeq();
      const s3 = store.outbox.nextSeq();
      expect(s2).toBe(s1 + 1);
      const stored = await store.outbox.append([
        item('m1', s3, { group: 'call-b', key: 'k3' }),
        item('m1', s1, { group: 'call-a', key: 'k1', onDone: 'h' }),
        item('m1', s2, { group: 'call-a', key: 'k2', onFailed: 'f' }),
        item('m1', s2 + 100, { id: 'dup', key: 'k1' }),
        item('m2', s3 + 1, { key: 'k1' }),
      ]);
      expect(stored.map((i) => i.id)).toEqual(['m1-i' + s3, 'm1-i' + s1, 'm1-i' + s2, 'm2-i' + (s3 + 1)]);
      expect((await store.outbox.append([item('m1', 500, { id: 'again', key: 'k2' })])).length).toBe(0);
      expect(store.outbox.pending('m1').map((i) => i.seq)).toEqual([s1, s2, s3]);
      expect(store.outbox.sendable('m1').map((i) => i.seq)).toEqual([s1, s2, s3]);
      expect(store.outbox.sendable('m1', new Set(['call-a'])).map((i) => i.seq)).toEqual([s3]);
      // What append answers is the caller's: changing it changes nothing stored.
      const first = stored[1];
      if (first) first.method = 'changed.by.caller';
      expect(store.outbox.getByKey('m1', 'k1')?.method).not.toBe('changed.by.caller');
      expect(store.outbox.getByKey('m1', 'k2')?.id).toBe(`m1-i${s2}`);
      expect(store.outbox.portalsWithPending().sort()).toEqual(['m1', 'm2']);

      // The worker: first of call-a done (its result kept for $refs), second retried then parked; call-b in flight.
      const [a1, a2, b1] = store.outbox.pending('m1');
      if (!a1 || !a2 || !b1) throw new Error('three pending items expected');
      await store.outbox.updateMany([
        { ...a1, status: 'done', result: { CALL_ID: 'X1' }, doneAt: Date.now(), attempts: 1 },
        { ...a2, attempts: 1, nextAttemptAt: 12_345, lastError: 'QUERY_LIMIT_EXCEEDED' },
      ]);
      await store.outbox.update({ ...a2, status: 'failed', attempts: 12, lastError: 'gave up' });
      await store.outbox.update({ ...b1, attempts: 1, nextAttemptAt: 777 });
      expect(store.outbox.pending('m1').map((i) => i.id)).toEqual([b1.id]);
      expect(store.outbox.failed('m1').map((i) => i.id)).toEqual([a2.id]);
      expect(store.outbox.undelivered().map((i) => i.id)).toEqual([a1.id, a2.id]);

      const again = await restart(store, open);
      expect(again.outbox.nextSeq()).toBeGreaterThan(s3 + 1);
      expect(again.outbox.pending('m1').map((i) => [i.id, i.attempts, i.nextAttemptAt])).toEqual([[b1.id, 1, 777]]);
      expect(again.outbox.get(a1.id)?.result).toEqual({ CALL_ID: 'X1' });
      expect(again.outbox.get(a1.id)?.params).toEqual({ A: s1, list: [1, 2] });
      expect(again.outbox.failed('m1').map((i) => i.lastError)).toEqual(['gave up']);
      expect(again.outbox.undelivered().map((i) => i.id)).toEqual([a1.id, a2.id]);
      await again.outbox.update({ ...(again.outbox.get(a1.id) ?? a1), delivered: true });
      expect(again.outbox.undelivered().map((i) => i.id)).toEqual([a2.id]);
      // Keys survive the restart: enqueueing the same write again is still a no-op.
      expect((await again.outbox.append([item('m1', 900, { id: 'late', key: 'k1' })])).length).toBe(0);

      await again.outbox.removePortal('m1');
      expect(again.outbox.pending('m1')).toEqual([]);
      expect(again.outbox.portalsWithPending()).toEqual(['m2']);
      const third = await restart(again, open);
      expect(third.outbox.get(a1.id)).toBeUndefined();
      expect(third.outbox.pending('m2').length).toBe(1);
    });

    it('outbox: done items past their retention are dropped at the next start, pending ones never', async () => {
      const { open } = await setup();
      let clock = 1_000_000_000_000;
      const store = await open({ now: () => clock });
      await store.outbox.append([item('m1', 1, { status: 'done', doneAt: clock }), item('m1', 2, { createdAt: clock })]);
      clock += 25 * 60 * 60 * 1000;
      const again = await restart(store, () => open({ now: () => clock }));
      expect(again.outbox.get('m1-i1')).toBeUndefined();
      expect(again.outbox.pending('m1').map((i) => i.id)).toEqual(['m1-i2']);
    });

    it('contact sync and missed-call tasks: put, get, list, remove, clear, per portal', async () => {
      const { open } = await setup();
      const store = await open();
      await store.contactSync.put({ portal: 'm1', entityType: 'CONTACT', entityId: 5, pbxContactId: 'p5', phonebookId: 'pb', state: 'synced', fingerprint: 'f', updatedAt: 1 });
      await store.contactSync.put({ portal: 'm1', entityType: 'LEAD', entityId: 5, phonebookId: 'pb', state: 'skipped', reason: 'no phone', updatedAt: 2 });
      await store.contactSync.put({ portal: 'm1', entityType: 'CONTACT', entityId: 5, pbxContactId: 'p5', phonebookId: 'pb', state: 'synced', fingerprint: 'g', updatedAt: 3 });
      await store.contactSync.put({ portal: 'm2', entityType: 'CONTACT', entityId: 5, phonebookId: 'pb', state: 'failed', updatedAt: 4 });
      const task = { portal: 'm1', phone: '+15550001111', createItemId: 'i1', responsibleId: 3, responsibleFrom: 'rang' as const, title: 'Missed', calls: ['c1'], createdAt: 1, deadline: 2 };
      await store.missedCallTasks.put(task);
      await store.missedCallTasks.put({ ...task, phone: '+15550002222', calls: ['c2'] });
      await store.missedCallTasks.put({ ...task, taskId: 77, calls: ['c1', 'c3'] });
      await store.missedCallTasks.put({ ...task, portal: 'm2' });
      await store.missedCallTasks.remove('m1', '+15550002222');
      await store.missedCallTasks.remove('m1', '+10000000000');

      const again = await restart(store, open);
      expect(again.contactSync.get('m1', 'CONTACT', 5)?.fingerprint).toBe('g');
      expect(again.contactSync.get('m1', 'LEAD', 5)?.reason).toBe('no phone');
      expect(again.contactSync.list('m1').length).toBe(2);
      expect(again.contactSync.get('m2', 'LEAD', 5)).toBeUndefined();
      expect(again.missedCallTasks.get('m1', '+15550001111')).toEqual({ ...task, taskId: 77, calls: ['c1', 'c3'] });
      expect(again.missedCallTasks.get('m1', '+15550002222')).toBeUndefined();
      expect(again.missedCallTasks.list('m1').length).toBe(1);
      await again.contactSync.clear('m1');
      await again.missedCallTasks.clear('m1');
      const third = await restart(again, open);
      expect(third.contactSync.list('m1')).toEqual([]);
      expect(third.missedCallTasks.list('m1')).toEqual([]);
      expect(third.contactSync.list('m2').length).toBe(1);
      expect(third.missedCallTasks.list('m2').length).toBe(1);
    });

    it('PBX link marks: only move forward, kept across a restart, forgotten per portal', async () => {
      const { h, open } = await setup();
      const store = await open();
      const marks = h.linkMarks(store);
      await marks.load();
      marks.setCoveredUntil('m1', 5_000);
      marks.setCoveredUntil('m1', 4_000);
      marks.setCoveredUntil('m2', 7_000);
      await marks.flush();
      const again = await restart(store, open);
      const reread = h.linkMarks(again);
      await reread.load();
      expect(reread.coveredUntil('m1')).toBe(5_000);
      expect(reread.coveredUntil('m2')).toBe(7_000);
      expect(reread.marksLost()).toBe(false);
      reread.forget('m2');
      await reread.flush();
      const third = await restart(again, open);
      const last = h.linkMarks(third);
      await last.load();
      expect(last.coveredUntil('m2')).toBeUndefined();
      expect(last.coveredUntil('m1')).toBe(5_000);
    });

    it('removePortal deletes everything of one portal and nothing of another', async () => {
      const { open } = await setup();
      const store = await open();
      for (const m of ['m1', 'm2']) {
        await store.portals.put(makePortal(m));
        await store.settings.put(m, settingsWithPbx);
        await store.bindings.replace(m, [{ userId: 1, extension: '1001', source: 'manual' }]);
        await store.calls.put(makeCall(m, 'c1'));
        await store.outbox.append([item(m, store.outbox.nextSeq())]);
        await store.contactSync.put({ portal: m, entityType: 'CONTACT', entityId: 1, phonebookId: 'pb', state: 'synced', updatedAt: 1 });
      }
      await store.removePortal('m1');
      const again = await restart(store, open);
      expect(again.portals.get('m1')).toBeUndefined();
      expect(again.settings.get('m1')).toEqual(DEFAULT_SETTINGS);
      expect(again.bindings.list('m1')).toEqual([]);
      expect(again.calls.count('m1')).toBe(0);
      expect(again.outbox.pending('m1')).toEqual([]);
      expect(again.contactSync.list('m1')).toEqual([]);
      expect(again.portals.get('m2')?.accessToken).toBe('access-m2-SECRET2');
      expect(again.settings.get('m2')).toEqual(settingsWithPbx);
      expect(again.calls.count('m2')).toBe(1);
      expect(again.outbox.pending('m2').length).toBe(1);
    });
  });
}

export const CONTRACT_KEY = TEST_KEY;
export const contractLog = (): ReturnType<typeof captureLog>['log'] => captureLog().log;
