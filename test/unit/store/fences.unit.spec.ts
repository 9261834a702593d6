import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from '../../../server/store/index.js';
import { DEFAULT_SETTINGS, type OutboxItem, type PortalSettings } from '../../../server/store/records.js';
import type { Store } from '../../../server/store/types.js';
import { captureLog, makeCall, makePortal, tempDir, TEST_KEY } from './helpers.js';

/**
 * Issue 10 point 4, at the store: one portal's unreadable file fences that portal, never the server.
 * Each case damages one portal's file the way a disk or a hand edit does and asserts what a customer cares about:
 * the store opens, the other portal reads and writes as before, the damaged file is not overwritten, the fence
 * names the file, and the repair starts it afresh while keeping the damaged copy aside.
 */

let dir: string;
let cleanup: () => Promise<void>;
const opened: Store[] = [];

async function open(): Promise<Store> {
  const store = await openStore({ dataDir: dir, secretKey: TEST_KEY, log: captureLog().log, now: () => 1_234 });
  opened.push(store);
  return store;
}

const pbxSettings = (clientSecret: string): PortalSettings => ({
  ...DEFAULT_SETTINGS, enabled: true,
  pbx: { baseUrl: 'https://pbx.example.com', clientId: 'cid', clientSecret, events: 'websocket', webhookSecret: '' },
});

function item(portal: string, seq: number): OutboxItem {
  return {
    id: `${portal}-i${seq}`, portal, group: 'g', seq, method: 'telephony.externalCall.register', params: { A: seq },
    status: 'pending', attempts: 0, nextAttemptAt: 0, createdAt: 1,
  };
}

/** Two portals with settings, bindings, a call and a pending outbox item each. */
async function twoPortals(): Promise<void> {
  const store = await open();
  for (const m of ['m1', 'm2']) {
    await store.portals.put(makePortal(m));
    await store.settings.put(m, pbxSettings(`secret-${m}`));
    await store.bindings.replace(m, [{ userId: 7, extension: '1001', source: 'manual' }]);
    await store.calls.put(makeCall(m, `c-${m}`));
    await store.outbox.append([item(m, m === 'm1' ? 1 : 2)]);
  }
  await store.close();
}

const portalFile = (m: string, name: string): string => join(dir, 'portals', m, name);

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});

afterEach(async () => {
  for (const s of opened.splice(0)) await s.close().catch(() => undefined);
  await cleanup();
});

describe('fenced portals', () => {
  it('a settings.json and .bak both damaged fence that portal only; the repair keeps the damaged file and starts afresh', async () => {
    await twoPortals();
    await writeFile(portalFile('m1', 'settings.json'), '{ torn');
    await writeFile(portalFile('m1', 'settings.json.bak'), 'garbage');
    const store = await open();

    expect(store.fences.list('m1')).toEqual([expect.objectContaining({ file: 'settings.json', repair: 'repair' })]);
    expect(store.fences.isFenced('m2')).toBe(false);
    expect(store.settings.get('m2').pbx?.clientSecret).toBe('secret-m2');
    expect(store.settings.get('m1')).toEqual(DEFAULT_SETTINGS);
    // Live work held back: the fenced portal's outbox is not offered to the workers, nor its open call resumed.
    expect(store.outbox.pending('m1')).toEqual([]);
    expect(store.outbox.portalsWithPending()).toEqual(['m2']);
    expect(store.calls.listOpen().map((c) => c.portal)).toEqual(['m2']);
    // The damaged file is never written over.
    await expect(store.settings.put('m1', pbxSettings('new'))).rejects.toThrow(/PORTAL_FENCED: settings\.json/);
    expect(await readFile(portalFile('m1', 'settings.json'), 'utf8')).toBe('{ torn');
    await store.settings.put('m2', pbxSettings('changed-m2'));

    const result = await store.repairPortal('m1');
    expect(result).toEqual({ repaired: [{ file: 'settings.json', keptAs: 'settings.json.corrupt-1234' }], remaining: [] });
    expect(await readFile(portalFile('m1', 'settings.json.corrupt-1234'), 'utf8')).toBe('{ torn');
    expect(store.fences.isFenced('m1')).toBe(false);
    expect(store.outbox.pending('m1')).toHaveLength(1);
    await store.settings.put('m1', pbxSettings('fresh-m1'));
    await store.close();
    const again = await open();
    expect(again.fences.portals()).toEqual([]);
    expect(again.settings.get('m1').pbx?.clientSecret).toBe('fresh-m1');
    expect(again.settings.get('m2').pbx?.clientSecret).toBe('changed-m2');
  });

  it('an unreadable calls.jsonl fences its portal; nothing is appended to it; the repair starts the history afresh', async () => {
    await twoPortals();
    // A journal from a release this build does not know: misreading it would lose calls.
    const newer = `${JSON.stringify({ journal: 'calls', schemaVersion: 99, portal: 'm1' })}\n{"pbxCallId":"x"}\n`;
    await writeFile(portalFile('m1', 'calls.jsonl'), newer);
    const store = await open();
    expect(store.fences.list('m1').map((f) => f.file)).toEqual(['calls.jsonl']);
    expect(store.calls.get('m2', 'c-m2')?.pbxCallId).toBe('c-m2');
    await expect(store.calls.put(makeCall('m1', 'c-new'))).rejects.toThrow(/PORTAL_FENCED/);
    await store.calls.put(makeCall('m2', 'c-new'));
    expect(await readFile(portalFile('m1', 'calls.jsonl'), 'utf8')).toBe(newer);

    await store.repairPortal('m1');
    await store.calls.put(makeCall('m1', 'c-after'));
    expect(store.calls.get('m1', 'c-after')?.pbxCallId).toBe('c-after');
    expect(await readFile(portalFile('m1', 'calls.jsonl.corrupt-1234'), 'utf8')).toBe(newer);
  });

  it('an outbox.jsonl the disk refuses to read (a directory in its place) fences its portal only', async () => {
    await twoPortals();
    const { rm } = await import('node:fs/promises');
    await rm(portalFile('m1', 'outbox.jsonl'));
    await mkdir(portalFile('m1', 'outbox.jsonl'));
    const store = await open();
    expect(store.fences.list('m1')).toEqual([expect.objectContaining({ file: 'outbox.jsonl', reason: expect.stringContaining('EISDIR') })]);
    expect(store.outbox.pending('m2')).toHaveLength(1);
    await expect(store.outbox.append([item('m1', 9)])).rejects.toThrow(/PORTAL_FENCED/);
    await store.repairPortal('m1');
    await store.outbox.append([item('m1', 9)]);
    expect(store.outbox.pending('m1').map((i) => i.seq)).toEqual([9]);
  });

  it('a token in portals.json that does not open fences that portal for a re-install; the ciphertext is kept until new tokens come', async () => {
    await twoPortals();
    const file = join(dir, 'portals.json');
    const doc = JSON.parse(await readFile(file, 'utf8')) as { data: { portals: Record<string, Record<string, unknown>> } };
    const m1 = doc.data.portals.m1;
    if (!m1) throw new Error('no m1');
    m1.refreshToken = 'enc:v1:AAAA';
    await writeFile(file, JSON.stringify(doc));
    const store = await open();
    expect(store.fences.list('m1')).toEqual([expect.objectContaining({ file: 'portals.json', repair: 'reinstall', reason: 'refreshToken does not open' })]);
    expect(store.portals.get('m1')?.refreshToken).toBe('');
    expect(store.portals.get('m1')?.accessToken).toBe('access-m1-SECRET2');
    expect(store.portals.get('m2')?.refreshToken).toBe('refresh-m2-SECRET3');
    // Another write of the record (a needs-reinstall flag) keeps the stored value as it was.
    await store.portals.update('m1', { needsReinstall: { at: 5, reason: 'invalid_grant' } });
    const after = JSON.parse(await readFile(file, 'utf8')) as typeof doc;
    expect(after.data.portals.m1?.refreshToken).toBe('enc:v1:AAAA');
    // A repair cannot mend a token: it says to re-install.
    expect((await store.repairPortal('m1')).remaining).toEqual([expect.objectContaining({ file: 'portals.json', repair: 'reinstall' })]);
    // The re-install stores new tokens: the fence lifts.
    await store.portals.update('m1', { refreshToken: 'refresh-new', accessToken: 'access-new' });
    expect(store.fences.isFenced('m1')).toBe(false);
    await store.close();
    const again = await open();
    expect(again.fences.portals()).toEqual([]);
    expect(again.portals.get('m1')?.refreshToken).toBe('refresh-new');
  });

  it('a PBX secret typed as "enc:v1:AAAA" is sealed like any input and reads back exact after a restart', async () => {
    const store = await open();
    await store.portals.put(makePortal('m1'));
    await store.settings.put('m1', pbxSettings('enc:v1:AAAA'));
    await store.close();
    const text = await readFile(portalFile('m1', 'settings.json'), 'utf8');
    expect(text).not.toContain('"enc:v1:AAAA"');
    const again = await open();
    expect(again.fences.portals()).toEqual([]);
    expect(again.settings.get('m1').pbx?.clientSecret).toBe('enc:v1:AAAA');
  });

  it('a token that looks sealed ("enc:v1:…", as an install may carry) is sealed like any input and reads back exact', async () => {
    const store = await open();
    await store.portals.put(makePortal('m1', { accessToken: 'enc:v1:AAAA', applicationToken: 'enc:v1:a:b:c' }));
    await store.close();
    const again = await open();
    expect(again.fences.portals()).toEqual([]);
    expect(again.portals.get('m1')).toMatchObject({ accessToken: 'enc:v1:AAAA', applicationToken: 'enc:v1:a:b:c' });
  });

  it('bindings.json and its .bak damaged: the portal reads no binding, a save is refused, the repair starts them afresh', async () => {
    await twoPortals();
    await writeFile(portalFile('m1', 'bindings.json'), '[');
    await writeFile(portalFile('m1', 'bindings.json.bak'), '[');
    const store = await open();
    expect(store.bindings.list('m1')).toEqual([]);
    expect(store.bindings.userForExtension('m2', '1001')).toBe(7);
    await expect(store.bindings.replace('m1', [])).rejects.toThrow(/PORTAL_FENCED: bindings\.json/);
    expect((await store.repairPortal('m1')).repaired).toEqual([{ file: 'bindings.json', keptAs: 'bindings.json.corrupt-1234' }]);
    expect(await readFile(portalFile('m1', 'bindings.json.bak.corrupt-1234'), 'utf8')).toBe('[');
    await store.bindings.replace('m1', [{ userId: 8, extension: '1002', source: 'manual' }]);
    expect(store.bindings.userForExtension('m1', '1002')).toBe(8);
  });

  it('a sealed PBX secret in settings.json that does not open fences the settings (repairable), not the server', async () => {
    await twoPortals();
    const file = portalFile('m1', 'settings.json');
    const doc = JSON.parse(await readFile(file, 'utf8')) as { data: { settings: { pbx: { clientSecret: string } } } };
    doc.data.settings.pbx.clientSecret = 'enc:v1:broken';
    await writeFile(file, JSON.stringify(doc));
    const store = await open();
    expect(store.fences.list('m1')).toEqual([expect.objectContaining({ file: 'settings.json', reason: expect.stringContaining('clientSecret') })]);
    expect(store.settings.get('m1').enabled).toBe(false);
    expect(store.settings.get('m2').pbx?.clientSecret).toBe('secret-m2');
    await store.repairPortal('m1');
    expect(store.settings.get('m1')).toEqual(DEFAULT_SETTINGS);
    expect((await readdir(join(dir, 'portals', 'm1'))).some((n) => n.startsWith('settings.json.corrupt-'))).toBe(true);
  });
});
