import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLinkStateFile } from '../../../server/pbx/link-state.js';
import { loadWebhookKey } from '../../../server/store/webhook-key.js';
import { captureLog, tempDirForEachTest } from './helpers.js';

/**
 * Issue 10 point 4: the webhook key is kept like secret.key and never made up while a portal depends on it; the
 * PBX link marks file (pbx-links.json) never stops the server when damaged.
 */

const dir = tempDirForEachTest();

const LEGACY = 'Q2VTOkXk3l2tS3d8m5m1y4l0n6v7c8x9z0a1b2c3d4e';

describe('webhook key', () => {
  it('moves the key out of an older pbx-links.json unchanged (same webhook URLs), into webhook.key and its .bak', async () => {
    await writeFile(join(dir(), 'pbx-links.json'), JSON.stringify({ version: 1, webhookKeySecret: LEGACY, portals: { m1: { coveredUntil: 5 } } }));
    const state = createLinkStateFile(join(dir(), 'pbx-links.json'), { debounceMs: 0 });
    await state.load();
    const key = await loadWebhookKey(dir(), { legacyKey: state.legacyWebhookKey(), webhookPortals: 1, log: captureLog().log });
    expect(key).toEqual({ ok: true, key: LEGACY });
    expect((await readFile(join(dir(), 'webhook.key'), 'utf8')).trim()).toBe(LEGACY);
    expect((await readFile(join(dir(), 'webhook.key.bak'), 'utf8')).trim()).toBe(LEGACY);
    state.dropLegacyWebhookKey();
    await state.flush();
    const links = await readFile(join(dir(), 'pbx-links.json'), 'utf8');
    expect(links).not.toContain(LEGACY);
    expect(JSON.parse(links)).toMatchObject({ portals: { m1: { coveredUntil: 5 } } });
  });

  it('never makes up a key while a portal uses webhooks; makes one when none does', async () => {
    const capture = captureLog();
    const refused = await loadWebhookKey(dir(), { webhookPortals: 2, log: capture.log });
    expect(refused).toEqual({ ok: false, reason: expect.stringContaining('missing while 2 portal(s) use PBX webhooks') });
    await expect(readFile(join(dir(), 'webhook.key'), 'utf8')).rejects.toThrow(/ENOENT/);
    const made = await loadWebhookKey(dir(), { webhookPortals: 0, log: capture.log });
    expect(made.ok).toBe(true);
    const again = await loadWebhookKey(dir(), { webhookPortals: 2, log: capture.log });
    expect(again).toEqual(made);
  });

  it('restores a damaged key file from its .bak; both damaged is refused even with no webhook portal', async () => {
    const log = captureLog().log;
    const made = await loadWebhookKey(dir(), { webhookPortals: 0, log });
    await writeFile(join(dir(), 'webhook.key'), '\u0000\u0000 torn');
    expect(await loadWebhookKey(dir(), { webhookPortals: 1, log })).toEqual(made);
    expect((await readFile(join(dir(), 'webhook.key'), 'utf8')).trim()).toBe(made.ok ? made.key : '');
    await writeFile(join(dir(), 'webhook.key'), 'bad');
    await writeFile(join(dir(), 'webhook.key.bak'), 'bad');
    expect(await loadWebhookKey(dir(), { webhookPortals: 0, log })).toEqual({ ok: false, reason: expect.stringContaining('damaged') });
  });
});

describe('PBX link marks (pbx-links.json)', () => {
  it('a damaged file falls back to its .bak; both damaged start without marks and say so', async () => {
    const path = join(dir(), 'pbx-links.json');
    const first = createLinkStateFile(path, { debounceMs: 0 });
    await first.load();
    first.setCoveredUntil('m1', 100);
    await first.flush();
    first.setCoveredUntil('m1', 200);
    await first.flush();
    await writeFile(path, '{"version": 2, "portals": {"m1": ');
    const capture = captureLog();
    const second = createLinkStateFile(path, { debounceMs: 0, log: capture.log });
    await second.load();
    expect(second.coveredUntil('m1')).toBe(100);
    expect(second.marksLost()).toBe(false);
    await writeFile(path, 'garbage');
    await writeFile(`${path}.bak`, 'garbage');
    const third = createLinkStateFile(path, { debounceMs: 0, log: capture.log });
    await third.load();
    expect(third.coveredUntil('m1')).toBeUndefined();
    expect(third.marksLost()).toBe(true);
    expect(capture.messages().some((m) => m.includes('coverage marks are lost'))).toBe(true);
  });
});
