import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SettingsResponse, StatusResponse } from '../../../contract/api-shapes.js';
import { portalDirName } from '../../../server/store/layout.js';
import { eventually } from '../foundation/server-under-test.js';
import { EMPTY_REPORT, expectEachLoggedOnce } from '../../support/calls.js';
import { closeStackFindingLeaks } from '../../support/secrets.js';
import { startStack, type Stack, type Tenant } from '../../support/stack.js';
import { startYeastarEmulator } from '../../emulators/yeastar/harness.js';

/**
 * Issue 10 point 4, "one tenant stops all", played end to end against the real server and both emulators.
 * The attack: a tenant admin (or a damaged disk) leaves one portal's stored data unreadable — a PBX secret typed
 * as "enc:v1:AAAA", a corrupt settings.json and .bak, an unreadable calls.jsonl, a token in portals.json that does
 * not open, a damaged pbx-links.json, a lost webhook key. Before the fix each of these stopped the server at the
 * next start for every tenant (or silently changed every webhook URL). What a customer cares about:
 * the server starts; every other tenant's call is logged exactly once; the damaged tenant's status says why in
 * plain words; its admin (or a re-install) repairs it and it logs calls again; webhook URLs never change by themselves.
 */

describe('tenancy: one tenant cannot stop the server for all', () => {
  let stack: Stack;
  let a: Tenant;
  let b: Tenant;
  let hooked: Tenant;
  let callSeq = 0;

  const portalFile = (t: Tenant, name: string): string => join(stack.dataDir, 'portals', portalDirName(t.memberId), name);
  const status = async (t: Tenant): Promise<StatusResponse> => (await stack.api(t, 'admin', 'GET', '/status')).body as StatusResponse;
  const webhookUrl = async (t: Tenant): Promise<string> => ((await stack.api(t, 'admin', 'GET', '/settings')).body as SettingsResponse).pbx?.webhookUrl ?? '';
  const pbxSettings = (events: 'websocket' = 'websocket') => ({
    enabled: true, defaultCountry: 'US', pbx: { baseUrl: stack.pbx.url, clientId: stack.pbx.clientId, clientSecret: stack.pbx.clientSecret, events },
  });

  async function restart(damage: () => Promise<void>): Promise<void> {
    await stack.stopServer();
    await damage();
    await stack.startServer();
  }

  /** Places an answered call to 1001 (both A and B have their agent on it) and returns its PBX call id. */
  async function call(): Promise<string> {
    callSeq += 1;
    return (await stack.pbx.scenario('inbound-answered', { from: `+1555030${String(1000 + callSeq)}`, to: '1001', talkSeconds: 5, record: true, wait: true })).callId;
  }

  async function connected(t: Tenant): Promise<void> {
    await eventually(async () => (await status(t)).pbx.state === 'connected', 15_000, 100);
  }

  /** B is served: its call is logged exactly once, while A (fenced) logs nothing of it. */
  async function expectOthersServed(fenced: Tenant): Promise<void> {
    const callId = await call();
    expect(await expectEachLoggedOnce(stack.b24, b.memberId, [callId], 20_000)).toEqual(EMPTY_REPORT);
    expect((await stack.b24.calls(fenced.memberId)).some((c) => (c.externalCallId ?? '').includes(callId))).toBe(false);
  }

  async function expectWorksAgain(t: Tenant): Promise<void> {
    await connected(t);
    const callId = await call();
    expect(await expectEachLoggedOnce(stack.b24, t.memberId, [callId], 20_000)).toEqual(EMPTY_REPORT);
  }

  beforeAll(async () => {
    stack = await startStack({ pbxSpeed: 1000 });
    a = await stack.addTenant();
    b = await stack.addTenant();
    hooked = await stack.addTenant({ pbx: 'webhook', extension: '1009' });
  }, 90_000);

  afterAll(async () => {
    if (!stack) return;
    expect(await closeStackFindingLeaks(stack)).toEqual([]);
  });

  it('(i) a PBX secret typed as "enc:v1:AAAA" is stored sealed: the server restarts and the secret reads back exact', async () => {
    // Save tests the connection first (issue 12 point 3): a PBX whose secret really is "enc:v1:AAAA" accepts it.
    const sealedLooking = await startYeastarEmulator({ clientSecret: 'enc:v1:AAAA' });
    const saved = await stack.api(a, 'admin', 'PUT', '/settings', {
      pbx: { baseUrl: sealedLooking.url, clientId: sealedLooking.clientId, clientSecret: 'enc:v1:AAAA', events: 'websocket' },
    }).finally(() => sealedLooking.stop());
    expect(saved.status, saved.text).toBe(200);
    expect(await readFile(portalFile(a, 'settings.json'), 'utf8')).not.toContain('"enc:v1:AAAA"');
    await restart(async () => undefined);
    expect(stack.server().services.store.settings.get(a.memberId).pbx?.clientSecret).toBe('enc:v1:AAAA');
    expect(stack.server().services.store.fences.portals()).toEqual([]);
    expect((await stack.api(a, 'admin', 'PUT', '/settings', pbxSettings())).status).toBe(200);
    await connected(a);
  }, 60_000);

  it('(ii) settings.json and its .bak corrupt: A is fenced, B is served, A\'s admin repairs it and A logs calls again', async () => {
    await restart(async () => {
      await writeFile(portalFile(a, 'settings.json'), '{"schemaVersion":1,"kind":"settings","data":{"settings":');
      await writeFile(portalFile(a, 'settings.json.bak'), '\u0000\u0000\u0000');
    });
    await expectOthersServed(a);
    const fenced = await status(a);
    expect(fenced.fenced).toEqual([expect.objectContaining({ file: 'settings.json', repair: 'repair' })]);
    expect(fenced.portal.notice).toMatch(/settings\.json.*POST \/api\/repair/);
    expect(fenced.pbx.state).not.toBe('connected');
    expect((await status(b)).fenced).toEqual([]);
    // The damaged file is never written over by a save; an employee who is not an admin cannot repair.
    expect((await stack.api(a, 'admin', 'PUT', '/settings', pbxSettings())).status).toBe(409);
    expect((await stack.api(a, 'agent', 'POST', '/repair')).status).toBe(403);

    const repaired = await stack.api(a, 'admin', 'POST', '/repair');
    expect(repaired.status).toBe(200);
    expect(repaired.body).toMatchObject({ repaired: [{ file: 'settings.json' }], remaining: [], fenced: false });
    const kept = (await readdir(join(stack.dataDir, 'portals', portalDirName(a.memberId)))).filter((n) => n.includes('.corrupt-'));
    expect(kept.some((n) => n.startsWith('settings.json.corrupt-'))).toBe(true);
    // Settings start afresh: the admin enters the PBX again.
    expect((await stack.api(a, 'admin', 'PUT', '/settings', pbxSettings())).status).toBe(200);
    await expectWorksAgain(a);
  }, 90_000);

  it('(ii) an unreadable calls.jsonl: A is fenced, B is served, the repair starts A\'s history afresh and A logs calls again', async () => {
    await restart(async () => {
      await writeFile(portalFile(a, 'calls.jsonl'), `${JSON.stringify({ journal: 'calls', schemaVersion: 99, portal: a.memberId })}\n`);
    });
    await expectOthersServed(a);
    const fenced = await status(a);
    expect(fenced.fenced).toEqual([expect.objectContaining({ file: 'calls.jsonl', repair: 'repair' })]);
    expect(fenced.pbx.state).toBe('disabled');
    expect((await stack.api(a, 'admin', 'POST', '/repair')).body).toMatchObject({ repaired: [{ file: 'calls.jsonl' }], fenced: false });
    expect((await status(a)).fenced).toEqual([]);
    await expectWorksAgain(a);
  }, 90_000);

  it('(ii) a token in portals.json that does not open: A is fenced for a re-install, B is served, the re-install heals A', async () => {
    await restart(async () => {
      const file = join(stack.dataDir, 'portals.json');
      const doc = JSON.parse(await readFile(file, 'utf8')) as { data: { portals: Record<string, { refreshToken: string }> } };
      const record = doc.data.portals[a.memberId];
      if (!record) throw new Error('tenant A is not in portals.json');
      record.refreshToken = 'enc:v1:AAAA';
      await writeFile(file, JSON.stringify(doc));
    });
    await expectOthersServed(a);
    const fenced = await status(a);
    expect(fenced.fenced).toEqual([expect.objectContaining({ file: 'portals.json', repair: 'reinstall' })]);
    expect(fenced.portal.notice).toMatch(/Install the app again/);
    // A repair cannot mend a token; the answer says to re-install.
    expect((await stack.api(a, 'admin', 'POST', '/repair')).body).toMatchObject({ repaired: [], remaining: [{ file: 'portals.json', repair: 'reinstall' }], fenced: true });

    const reinstalled = await stack.b24.install(a.memberId, { appUrl: stack.url() });
    expect(reinstalled.installerPage.status).toBe(200);
    await stack.b24.finishInstall(a.memberId);
    await eventually(async () => (await status(a)).fenced?.length === 0, 10_000, 100);
    await expectWorksAgain(a);
  }, 90_000);

  it('(iii) a damaged pbx-links.json: the server starts and the webhook URL is unchanged; a lost webhook key is never made up', async () => {
    const before = await webhookUrl(hooked);
    expect(before).toMatch(/\/pbx\/webhook\/[A-Za-z0-9_-]{32}$/);
    const keyFile = join(stack.dataDir, 'webhook.key');
    const key = await readFile(keyFile, 'utf8');

    await restart(async () => {
      await writeFile(join(stack.dataDir, 'pbx-links.json'), '{"version": 2, "portals": {');
      await writeFile(join(stack.dataDir, 'pbx-links.json.bak'), 'garbage');
    });
    expect(await webhookUrl(hooked)).toBe(before);
    expect(await readFile(keyFile, 'utf8')).toBe(key);
    expect((await status(hooked)).fenced).toEqual([]);
    expect(await stack.logs()).toMatch(/coverage marks are lost/);

    // The key file and its copy are lost while a portal uses webhooks: the server starts, the webhook portal is
    // fenced with an operator's fix, the others are served, and no new key (no new URL) is made up.
    await restart(async () => {
      await rm(keyFile);
      await rm(`${keyFile}.bak`);
    });
    await expectOthersServed(hooked);
    const fenced = await status(hooked);
    expect(fenced.fenced).toEqual([expect.objectContaining({ file: 'webhook.key', repair: 'operator' })]);
    expect(fenced.portal.notice).toMatch(/webhook\.key.*operator must restore it/);
    expect(await webhookUrl(hooked)).not.toMatch(/\/pbx\/webhook\/[A-Za-z0-9_-]{32}$/);
    await expect(readFile(keyFile, 'utf8')).rejects.toThrow(/ENOENT/);

    // The operator restores the key from the backup: the same URL as before, the portal is no longer fenced.
    await restart(async () => {
      await writeFile(keyFile, key, { mode: 0o600 });
    });
    expect(await webhookUrl(hooked)).toBe(before);
    expect((await status(hooked)).fenced).toEqual([]);
  }, 90_000);
});
