import { readFile, readdir, stat, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, resolveSecretKey } from '../../../server/store/index.js';
import { DEFAULT_SETTINGS, type OutboxItem } from '../../../server/store/records.js';
import type { Store } from '../../../server/store/types.js';
import { captureLog, faultyFs, makeCall, makePortal, tempDir, TEST_KEY } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
const opened: Store[] = [];

async function open(extra: Partial<Parameters<typeof openStore>[0]> = {}): Promise<Store> {
  const store = await openStore({ dataDir: dir, secretKey: TEST_KEY, log: captureLog().log, ...extra });
  opened.push(store);
  return store;
}

async function filesUnder(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true })) {
    const path = join(root, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else out.push(path);
  }
  return out;
}

function item(portal: string, seq: number, overrides: Partial<OutboxItem> = {}): OutboxItem {
  return {
    id: `i${seq}`, portal, group: 'g', seq, method: 'telephony.externalCall.register', params: { A: seq },
    status: 'pending', attempts: 0, nextAttemptAt: 0, createdAt: 1, ...overrides,
  };
}

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});

afterEach(async () => {
  for (const s of opened.splice(0)) await s.close().catch(() => undefined);
  await cleanup();
});

describe('portals, settings, bindings, contact sync', () => {
  it('keeps portals across a restart and applies concurrent updates without losing one', async () => {
    const store = await open();
    await store.portals.put(makePortal('m1'));
    await Promise.all([
      store.portals.update('m1', { accessToken: 'new-access' }),
      store.portals.update('m1', { needsReinstall: { at: 5, reason: 'invalid_grant' } }),
    ]);
    await store.close();
    const again = await open();
    const portal = again.portals.get('m1');
    expect(portal?.accessToken).toBe('new-access');
    expect(portal?.needsReinstall?.reason).toBe('invalid_grant');
    expect(portal?.refreshToken).toBe('refresh-m1-SECRET3');
    expect(again.portals.list().map((p) => p.memberId)).toEqual(['m1']);
    await expect(again.portals.update('nope', {})).rejects.toThrow(/NOT_FOUND/);
  });

  it('never leaves a secret in plaintext on disk, and hands callers plaintext', async () => {
    const store = await open();
    await store.portals.put(makePortal('m1'));
    await store.settings.put('m1', {
      ...DEFAULT_SETTINGS, enabled: true,
      pbx: { baseUrl: 'https://pbx.local', clientId: 'cid', clientSecret: 'pbx-SECRET5', events: 'webhook', webhookSecret: 'hook-SECRET6' },
    });
    await store.portals.update('m1', { accessToken: 'rotated-SECRET7' });
    await store.close();
    for (const file of await filesUnder(dir)) {
      const text = await readFile(file, 'utf8');
      expect(text, file).not.toMatch(/SECRET\d/);
    }
    const again = await open();
    expect(again.settings.get('m1').pbx?.clientSecret).toBe('pbx-SECRET5');
    expect(again.settings.get('m1').pbx?.webhookSecret).toBe('hook-SECRET6');
    expect(again.portals.get('m1')?.webhookUrl).toContain('hook-SECRET4');
    expect(again.portals.get('m1')?.accessToken).toBe('rotated-SECRET7');
  });

  it('fails start clearly when the secret key is not the one the data was sealed with', async () => {
    const store = await open();
    await store.portals.put(makePortal('m1'));
    await store.close();
    await expect(openStore({ dataDir: dir, secretKey: 'b'.repeat(64), log: captureLog().log })).rejects.toThrow(/SECRET_KEY_MISMATCH/);
  });

  it('fills settings defaults, stores bindings and contact sync entries, clears them', async () => {
    const store = await open();
    expect(store.settings.get('m1')).toEqual(DEFAULT_SETTINGS);
    await store.settings.put('m1', { ...DEFAULT_SETTINGS, defaultCountry: 'RU' });
    await store.bindings.replace('m1', [{ userId: 7, extension: '1001', source: 'manual' }]);
    await store.contactSync.put({ portal: 'm1', entityType: 'CONTACT', entityId: 5, phonebookId: 'pb', state: 'synced', updatedAt: 1 });
    await store.close();
    const again = await open();
    expect(again.settings.get('m1').defaultCountry).toBe('RU');
    expect(again.bindings.userForExtension('m1', '1001')).toBe(7);
    expect(again.bindings.extensionForUser('m1', 7)).toBe('1001');
    expect(again.contactSync.get('m1', 'CONTACT', 5)?.state).toBe('synced');
    expect(again.contactSync.list('m1')).toHaveLength(1);
    await again.settings.clear('m1');
    await again.contactSync.clear('m1');
    expect(again.settings.get('m1')).toEqual(DEFAULT_SETTINGS);
    expect(again.contactSync.list('m1')).toEqual([]);
  });

  it('uses the previous good copy when a document is corrupt, and says so', async () => {
    const store = await open();
    await store.portals.put(makePortal('m1'));
    await store.portals.update('m1', { domain: 'second.bitrix24.com' });
    await store.close();
    await writeFile(join(dir, 'portals.json'), '{"schemaVersion":1,"kind":"portals","data":{"portals":{"m1":', 'utf8');
    const capture = captureLog();
    const again = await open({ log: capture.log });
    expect(again.portals.get('m1')?.domain).toBe('m1.bitrix24.com');
    expect(capture.messages().some((m) => m.startsWith('STORE_CORRUPT:') && m.includes('using the previous good copy'))).toBe(true);
    expect((await readdir(dir)).some((n) => n.startsWith('portals.json.corrupt-'))).toBe(true);
  });

  it('never makes an unreadable file the .bak, even when it could not be set aside', async () => {
    const store = await open();
    await store.portals.put(makePortal('m1'));
    await store.portals.update('m1', { domain: 'second.bitrix24.com' });
    await store.close();
    await writeFile(join(dir, 'portals.json'), 'torn', 'utf8');
    const { nodeFs } = await import('../../../server/store/fs.js');
    const stuck = { ...nodeFs, rename: (from: string, to: string) =>
      to.includes('.corrupt-') ? Promise.reject(Object.assign(new Error('EACCES'), { code: 'EACCES' })) : nodeFs.rename(from, to) };
    const recovered = await open({ fs: stuck });
    expect(recovered.portals.get('m1')?.domain).toBe('m1.bitrix24.com');
    await recovered.portals.update('m1', { domain: 'third.bitrix24.com' });
    await recovered.close();
    expect(await readFile(join(dir, 'portals.json.bak'), 'utf8')).not.toBe('torn');
    await writeFile(join(dir, 'portals.json'), 'torn again', 'utf8');
    const again = await open();
    expect(again.portals.get('m1')?.domain).toBe('m1.bitrix24.com');
  });

  it('refuses to start when a document and its .bak are both unreadable, naming the file', async () => {
    const store = await open();
    await store.portals.put(makePortal('m1'));
    await store.portals.put(makePortal('m2'));
    await store.close();
    await writeFile(join(dir, 'portals.json'), 'garbage', 'utf8');
    await writeFile(join(dir, 'portals.json.bak'), 'garbage too', 'utf8');
    await expect(openStore({ dataDir: dir, secretKey: TEST_KEY, log: captureLog().log }))
      .rejects.toThrow(/STORE_CORRUPT: .*portals\.json is unreadable .* previous good copy .*portals\.json\.bak/);
  });

  it('rejects a document write on a full disk with STORE_WRITE_FAILED and keeps memory and file as before', async () => {
    const fs = faultyFs();
    const store = await open({ fs });
    await store.portals.put(makePortal('m1'));
    const before = await readFile(join(dir, 'portals.json'), 'utf8');
    fs.failWrites = true;
    await expect(store.portals.update('m1', { domain: 'changed' })).rejects.toThrow(/STORE_WRITE_FAILED/);
    expect(store.portals.get('m1')?.domain).toBe('m1.bitrix24.com');
    expect(await readFile(join(dir, 'portals.json'), 'utf8')).toBe(before);
    fs.failWrites = false;
    await store.portals.update('m1', { domain: 'changed' });
    expect(store.portals.get('m1')?.domain).toBe('changed');
  });

  it('migrates a v0 document (bare data, no envelope) and a v0 journal (no header, missing fields)', async () => {
    const portalDir = join(dir, 'portals', 'm1');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(portalDir, { recursive: true });
    await writeFile(join(portalDir, 'bindings.json'), JSON.stringify({ bindings: [{ userId: 3, extension: '1003', source: 'manual' }] }));
    const v0Call = { portal: 'm1', pbxCallId: 'c-old', direction: 'inbound', external: '+1555', startedAt: 10, phase: 'logged', updatedAt: 10 };
    await writeFile(join(portalDir, 'calls.jsonl'), `${JSON.stringify(v0Call)}\n`);
    const store = await open();
    expect(store.bindings.userForExtension('m1', '1003')).toBe(3);
    const call = store.calls.get('m1', 'c-old');
    expect(call?.recordingState).toBe('none');
    expect(call?.shownTo).toEqual([]);
    expect(call?.origin).toBe('pbx');
    await store.close();
    const firstLine = (await readFile(join(portalDir, 'calls.jsonl'), 'utf8')).split('\n')[0] ?? '';
    expect(JSON.parse(firstLine)).toEqual({ journal: 'calls', schemaVersion: 1, portal: 'm1' });
  });

  it('refuses data from a newer schema version rather than misreading it', async () => {
    await writeFile(join(dir, 'portals.json'), JSON.stringify({ schemaVersion: 99, kind: 'portals', data: { portals: {} } }));
    await expect(openStore({ dataDir: dir, secretKey: TEST_KEY, log: captureLog().log })).rejects.toThrow(/STORE_CORRUPT/);
  });
});

describe('calls journal', () => {
  it('indexes calls by id, CALL_ID, entity (newest first, before cursor), phone, recency and open phase', async () => {
    const store = await open();
    await store.calls.put(makeCall('m1', 'c1', { startedAt: 100, crm: { entityType: 'CONTACT', entityId: 9 }, b24CallId: 'B1' }));
    await store.calls.put(makeCall('m1', 'c2', { startedAt: 200, crm: { entityType: 'CONTACT', entityId: 9 }, phase: 'logged' }));
    await store.calls.put(makeCall('m1', 'c3', { startedAt: 300, external: '+15559990000', phase: 'ended' }));
    await store.calls.put(makeCall('m2', 'c1', { startedAt: 50 }));
    expect(store.calls.getByB24CallId('m1', 'B1')?.pbxCallId).toBe('c1');
    expect(store.calls.listByEntity('m1', 'CONTACT', 9).map((c) => c.pbxCallId)).toEqual(['c2', 'c1']);
    expect(store.calls.listByEntity('m1', 'CONTACT', 9, { before: 200 }).map((c) => c.pbxCallId)).toEqual(['c1']);
    expect(store.calls.listByPhone('m1', '+15559990000').map((c) => c.pbxCallId)).toEqual(['c3']);
    expect(store.calls.listRecent('m1', { limit: 2 }).map((c) => c.pbxCallId)).toEqual(['c3', 'c2']);
    expect(store.calls.listRecent('m1', { before: 300 }).map((c) => c.pbxCallId)).toEqual(['c2', 'c1']);
    expect(store.calls.listOpen().map((c) => `${c.portal}/${c.pbxCallId}`).sort()).toEqual(['m1/c1', 'm1/c3', 'm2/c1']);
    expect(store.calls.count('m1')).toBe(3);

    // A new version moves the indexes: entity changes, CALL_ID changes, call is logged.
    await store.calls.put(makeCall('m1', 'c1', { startedAt: 100, crm: { entityType: 'LEAD', entityId: 4 }, b24CallId: 'B9', phase: 'logged' }));
    expect(store.calls.getByB24CallId('m1', 'B1')).toBeUndefined();
    expect(store.calls.getByB24CallId('m1', 'B9')?.pbxCallId).toBe('c1');
    expect(store.calls.listByEntity('m1', 'CONTACT', 9).map((c) => c.pbxCallId)).toEqual(['c2']);
    expect(store.calls.listByEntity('m1', 'LEAD', 4).map((c) => c.pbxCallId)).toEqual(['c1']);
    expect(store.calls.listOpen().map((c) => c.pbxCallId).sort()).toEqual(['c1', 'c3']);

    await store.close();
    const again = await open();
    expect(again.calls.count('m1')).toBe(3);
    expect(again.calls.get('m1', 'c1')?.crm?.entityType).toBe('LEAD');
    expect(again.calls.listOpen()).toHaveLength(2);
  });

  it('returns copies: mutating a returned record does not change the store', async () => {
    const store = await open();
    await store.calls.put(makeCall('m1', 'c1'));
    const copy = store.calls.get('m1', 'c1');
    if (copy) copy.extensions.push('9999');
    expect(store.calls.get('m1', 'c1')?.extensions).toEqual(['1001']);
  });

  it('skips a torn last line with a warning and appends cleanly after it', async () => {
    const store = await open();
    await store.calls.put(makeCall('m1', 'c1'));
    await store.close();
    const file = join(dir, 'portals', 'm1', 'calls.jsonl');
    await appendFile(file, '{"portal":"m1","pbxCallId":"c2","direc');
    const capture = captureLog();
    const again = await open({ log: capture.log });
    expect(again.calls.get('m1', 'c2')).toBeUndefined();
    expect(capture.messages().some((m) => m.includes('last line is incomplete'))).toBe(true);
    await again.calls.put(makeCall('m1', 'c3'));
    await again.close();
    const third = await open();
    expect(third.calls.get('m1', 'c1')).toBeDefined();
    expect(third.calls.get('m1', 'c3')).toBeDefined();
  });

  it('group-commits concurrent puts: 100 puts cost far fewer than 100 syncs', async () => {
    const fs = faultyFs();
    const store = await open({ fs });
    await store.calls.put(makeCall('m1', 'warm'));
    fs.syncs = 0;
    await Promise.all(Array.from({ length: 100 }, (_, i) => store.calls.put(makeCall('m1', `c${i}`, { startedAt: i }))));
    expect(fs.syncs).toBeLessThanOrEqual(3);
    expect(store.calls.count('m1')).toBe(101);
  });

  it('on a full disk rejects with STORE_WRITE_FAILED, rolls memory back and leaves the journal readable', async () => {
    const fs = faultyFs();
    const store = await open({ fs });
    await store.calls.put(makeCall('m1', 'c1', { phase: 'live' }));
    const file = join(dir, 'portals', 'm1', 'calls.jsonl');
    const before = await readFile(file, 'utf8');
    fs.failWrites = true;
    await expect(store.calls.put(makeCall('m1', 'c1', { phase: 'logged' }))).rejects.toThrow(/STORE_WRITE_FAILED/);
    await expect(store.calls.put(makeCall('m1', 'c2'))).rejects.toMatchObject({ code: 'STORE_WRITE_FAILED' });
    expect(store.calls.get('m1', 'c1')?.phase).toBe('live');
    expect(store.calls.get('m1', 'c2')).toBeUndefined();
    expect(await readFile(file, 'utf8')).toBe(before);
    fs.failWrites = false;
    await store.calls.put(makeCall('m1', 'c2'));
    await store.close();
    const again = await open();
    expect(again.calls.get('m1', 'c1')?.phase).toBe('live');
    expect(again.calls.get('m1', 'c2')).toBeDefined();
  });

  it('cuts a torn failed append before the next one even when the first cut failed too', async () => {
    const fs = faultyFs();
    const store = await open({ fs });
    await store.calls.put(makeCall('m1', 'c1'));
    fs.failWrites = true;
    fs.failTruncates = true;
    await expect(store.calls.put(makeCall('m1', 'c2'))).rejects.toThrow(/STORE_WRITE_FAILED/);
    fs.failWrites = false;
    fs.failTruncates = false;
    await store.calls.put(makeCall('m1', 'c3'));
    await store.close();
    const capture = captureLog();
    const again = await open({ log: capture.log });
    expect(again.calls.get('m1', 'c1')).toBeDefined();
    expect(again.calls.get('m1', 'c2')).toBeUndefined();
    expect(again.calls.get('m1', 'c3')).toBeDefined();
    expect(capture.messages().filter((m) => m.includes('STORE_CORRUPT'))).toEqual([]);
  });

  it('compacts a journal full of superseded versions to the live set', async () => {
    const store = await open();
    for (let round = 0; round < 30; round += 1) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => store.calls.put(makeCall('m1', `c${i}`, { updatedAt: round }))));
    }
    await store.close();
    const file = join(dir, 'portals', 'm1', 'calls.jsonl');
    const lines = (await readFile(file, 'utf8')).trim().split('\n').length;
    expect(lines).toBeLessThan(1200);
    const again = await open();
    expect(again.calls.count('m1')).toBe(100);
    expect(again.calls.get('m1', 'c5')?.updatedAt).toBe(29);
  });
});

describe('outbox repository', () => {
  it('appends idempotently by key, keeps pending in seq order, moves items between pending/failed/done, survives restart', async () => {
    const store = await open();
    const stored = await store.outbox.append([item('m1', 2, { key: 'k2' }), item('m1', 1), item('m1', 3, { key: 'k2' })]);
    expect(stored.map((i) => i.id)).toEqual(['i2', 'i1']);
    expect(await store.outbox.append([item('m1', 4, { key: 'k2' })])).toEqual([]);
    expect(store.outbox.getByKey('m1', 'k2')?.id).toBe('i2');
    expect(store.outbox.pending('m1').map((i) => i.id)).toEqual(['i1', 'i2']);
    expect(store.outbox.portalsWithPending()).toEqual(['m1']);
    await store.outbox.updateMany([
      { ...item('m1', 1), status: 'done', result: { CALL_ID: 'X' }, doneAt: Date.now() },
      { ...item('m1', 2, { key: 'k2' }), status: 'failed', lastError: 'ERROR_CORE: bad' },
    ]);
    expect(store.outbox.pending('m1')).toEqual([]);
    expect(store.outbox.failed('m1').map((i) => i.id)).toEqual(['i2']);
    expect(store.outbox.portalsWithPending()).toEqual([]);
    await store.close();
    const again = await open();
    expect(again.outbox.get('i1')?.result).toEqual({ CALL_ID: 'X' });
    expect(again.outbox.failed('m1').map((i) => i.lastError)).toEqual(['ERROR_CORE: bad']);
    expect(again.outbox.nextSeq()).toBeGreaterThan(2);
  });

  it('drops done items past the retention at load, keeps pending and failed', async () => {
    const old = 1_000;
    const store = await open({ now: () => old });
    await store.outbox.append([item('m1', 1), item('m1', 2), item('m1', 3)]);
    await store.outbox.update({ ...item('m1', 1), status: 'done', doneAt: old });
    await store.outbox.update({ ...item('m1', 2), status: 'failed' });
    await store.close();
    const later = await open({ now: () => old + 2 * 24 * 3600 * 1000 });
    expect(later.outbox.get('i1')).toBeUndefined();
    expect(later.outbox.get('i2')?.status).toBe('failed');
    expect(later.outbox.get('i3')?.status).toBe('pending');
  });
});

describe('removePortal and the secret key', () => {
  it('removes every record of one portal and leaves the others', async () => {
    const store = await open();
    for (const m of ['m1', 'm2']) {
      await store.portals.put(makePortal(m));
      await store.settings.put(m, DEFAULT_SETTINGS);
      await store.bindings.replace(m, [{ userId: 1, extension: '100', source: 'manual' }]);
      await store.calls.put(makeCall(m, 'c1'));
      await store.outbox.append([item(m, m === 'm1' ? 1 : 2, { id: `${m}-i` })]);
    }
    await store.removePortal('m1');
    expect(store.portals.get('m1')).toBeUndefined();
    expect(store.calls.count('m1')).toBe(0);
    expect(store.outbox.pending('m1')).toEqual([]);
    expect(store.bindings.list('m1')).toEqual([]);
    await store.close();
    expect(await readdir(join(dir, 'portals'))).toEqual(['m2']);
    const again = await open();
    expect(again.portals.get('m1')).toBeUndefined();
    expect(again.calls.count('m2')).toBe(1);
    expect(again.outbox.pending('m2')).toHaveLength(1);
  });

  it('generates a 0600 key file once and reuses it; a configured key wins', async () => {
    const { log } = captureLog();
    const first = await resolveSecretKey(dir, undefined, log);
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect((await stat(join(dir, 'secret.key'))).mode & 0o777).toBe(0o600);
    expect(await resolveSecretKey(dir, undefined, log)).toBe(first);
    expect(await resolveSecretKey(dir, '', log)).toBe(first);
    expect(await resolveSecretKey(dir, 'configured-key', log)).toBe('configured-key');
    await writeFile(join(dir, 'secret.key'), 'short');
    await expect(resolveSecretKey(dir, undefined, log)).rejects.toThrow(/SECRET_KEY_INVALID/);
  });
});
