import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore } from '../../../server/store/index.js';
import type { Store } from '../../../server/store/types.js';
import type { Portal } from '../../../server/store/records.js';
import { DEFAULT_SETTINGS } from '../../../server/store/records.js';
import { createLogger } from '../../../server/log.js';
import { uninstallPortal } from '../../../server/portals/uninstall.js';
import type { PortalBitrixClients } from '../../../server/bitrix/client.js';

const portal: Portal = {
  memberId: 'm1', domain: 'acme.bitrix24.com', clientEndpoint: 'https://acme.bitrix24.com/rest/', serverEndpoint: 'https://oauth.bitrix.info/rest/',
  applicationToken: 'app-token', accessToken: 'access', refreshToken: 'refresh', expiresAt: 1, scope: '', status: 'L', ratePlan: 'standard',
  lineNumber: 'pbx-1', installedAt: 1, updatedAt: 1, installed: true,
};

describe('uninstall', () => {
  let dir: string;
  let store: Store;
  const log = createLogger('silent');
  const forgotten: string[] = [];
  const clients = { forget: (m: string) => { forgotten.push(m); } } as unknown as PortalBitrixClients;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pbxb24-uninstall-'));
    store = await openStore({ dataDir: dir, secretKey: 'k'.repeat(64), log });
    await store.portals.put(portal);
    await store.settings.put('m1', { ...DEFAULT_SETTINGS, enabled: true });
    await store.bindings.replace('m1', [{ userId: 5, extension: '101', source: 'manual' }]);
  });

  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('drops the tokens, keeps settings, and closes the PBX link only after the store says uninstalled', async () => {
    let seenAtClose: Portal | undefined;
    await uninstallPortal({ store, clients, log, now: () => 77, onPortalRemoved: (m) => { seenAtClose = store.portals.get(m); } }, 'm1', false);
    const after = store.portals.get('m1');
    expect(after).toMatchObject({ accessToken: '', refreshToken: '', installed: false, uninstalledAt: 77 });
    expect(seenAtClose?.uninstalledAt).toBe(77);
    expect(store.settings.get('m1').enabled).toBe(true);
    expect(store.bindings.list('m1')).toHaveLength(1);
    expect(forgotten).toContain('m1');
  });

  it('with CLEAN=1 removes the portal and its data before closing the link', async () => {
    let presentAtClose = true;
    await uninstallPortal({ store, clients, log, onPortalRemoved: (m) => { presentAtClose = store.portals.get(m) !== undefined; } }, 'm1', true);
    expect(store.portals.get('m1')).toBeUndefined();
    expect(presentAtClose).toBe(false);
    expect(store.bindings.list('m1')).toHaveLength(0);
    expect(store.settings.get('m1').enabled).toBe(false);
  });

  it('survives a failing link close', async () => {
    await uninstallPortal({ store, clients, log, onPortalRemoved: () => { throw new Error('boom'); } }, 'm1', false);
    expect(store.portals.get('m1')?.uninstalledAt).toBeDefined();
  });
});
