import { describe, expect, it } from 'vitest';
import { portalStatus } from '../../../server/portals/status.js';
import { DEFAULT_SETTINGS, type Portal } from '../../../server/store/records.js';
import type { Store } from '../../../server/store/types.js';
import { createPortalFences, type PortalFences } from '../../../server/store/fences.js';
import type { Outbox } from '../../../server/outbox/types.js';

const base: Portal = {
  memberId: 'm1', domain: 'acme.bitrix24.com', clientEndpoint: 'https://acme.bitrix24.com/rest/', serverEndpoint: 'https://oauth.bitrix.info/rest/',
  applicationToken: 't', accessToken: 'a', refreshToken: 'r', expiresAt: 0, scope: '', status: 'L', ratePlan: 'enterprise',
  lineNumber: 'pbx-1', installedAt: 1, updatedAt: 1, installed: true,
};

/** The few reads status makes, over plain data. */
function deps(portal: Portal, fences: PortalFences = createPortalFences()) {
  const store = {
    fences,
    portals: { get: () => portal },
    settings: { get: () => ({ ...DEFAULT_SETTINGS, enabled: true }) },
    bindings: { extensionForUser: (_m: string, userId: number) => (userId === 5 ? '101' : undefined) },
  } as unknown as Store;
  const outbox = { stats: () => ({ pending: 3, failed: 1, oldestPendingAt: 1000, sentRequests: 9 }) } as unknown as Outbox;
  return { store, outbox, pbxStatus: () => ({ state: 'connected' as const, lastEventAt: 42 }) };
}

describe('portal status for the settings page', () => {
  it('combines install state, user binding, PBX link and outbox backlog', () => {
    expect(portalStatus(deps(base), { portal: base, userId: 5, isAdmin: true })).toEqual({
      portal: {
        memberId: 'm1', domain: 'acme.bitrix24.com', installed: true, needsReinstall: null, ratePlan: 'enterprise', lineNumber: 'pbx-1',
        connection: 'app', notice: null,
      },
      user: { id: 5, isAdmin: true, extension: '101' },
      enabled: true,
      pbx: { configured: false, state: 'connected', lastError: null, lastErrorCode: null, lastEventAt: 42 },
      outbox: { pending: 3, failed: 1, oldestPendingAt: 1000 },
      fenced: [],
    });
  });

  // Issue 10 point 4: a portal whose stored data cannot be read says which file and what to do, ahead of any other notice.
  it('says why a fenced portal is fenced, which file, and who repairs it', () => {
    const fences = createPortalFences(() => 77);
    fences.add('m1', { file: 'settings.json', repair: 'repair', reason: 'the file and its previous good copy (.bak) are both damaged' });
    fences.add('m1', { file: 'portals.json', repair: 'reinstall', reason: 'refreshToken does not open' });
    const marked = { ...base, needsReinstall: { at: 5, reason: 'invalid_grant' } };
    const s = portalStatus(deps(marked, fences), { portal: marked, userId: 5, isAdmin: true });
    expect(s.fenced?.map((f) => [f.file, f.repair, f.since])).toEqual([['settings.json', 'repair', 77], ['portals.json', 'reinstall', 77]]);
    expect(s.portal.notice).toMatch(/^This portal is fenced off/);
    expect(s.portal.notice).toMatch(/settings\.json is unreadable .*POST \/api\/repair/);
    expect(s.portal.notice).toMatch(/Install the app again/);
  });

  it('tells the admin to reinstall, and what webhook mode cannot do', () => {
    const marked = { ...base, needsReinstall: { at: 5, reason: 'invalid_grant' } };
    const s = portalStatus(deps(marked), { portal: marked, userId: 6, isAdmin: false });
    expect(s.portal.needsReinstall).toEqual({ at: 5, reason: 'invalid_grant' });
    expect(s.portal.notice).toMatch(/reinstall/);
    expect(s.user.extension).toBeNull();
    const hooked = { ...base, webhookUrl: 'https://acme.bitrix24.com/rest/1/abc/' };
    const h = portalStatus(deps(hooked), { portal: hooked, userId: 5, isAdmin: true });
    expect(h.portal.connection).toBe('webhook');
    expect(h.portal.notice).toMatch(/WRONG_AUTH_TYPE/);
  });
});
