import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../server/log.js';
import { admitGrant, type InstallDeps } from '../../../server/portals/install.js';
import type { InstallGrant } from '../../../server/portals/install-request.js';
import type { FrameProfile, FrameTarget, PortalBitrixClients } from '../../../server/bitrix/client.js';
import { BitrixError } from '../../../server/bitrix/types.js';
import type { Portal } from '../../../server/store/records.js';
import type { Store } from '../../../server/store/types.js';

/**
 * Why (issue 10 point 1): a re-install of a known member_id was accepted with the old application token alone or any
 * user's token, and moved the portal to the address the request named. Now every install grant needs the trusted
 * OAuth server's word AND an admin's token, and the address moves only when the OAuth server names the new one
 * (a renamed portal, which the emulator cannot play: its portals live on fixed ports).
 */

const OAUTH = 'https://oauth.example/rest/';
const OLD = '127.0.0.1:1001';
const NEW = '127.0.0.1:1002';

const stored: Portal = {
  memberId: 'member-1', domain: OLD, clientEndpoint: `http://${OLD}/rest/`, serverEndpoint: OAUTH, applicationToken: 'old-app-token',
  accessToken: 'a', refreshToken: 'r', expiresAt: 0, scope: '', status: 'L', ratePlan: 'standard', lineNumber: 'pbx-1',
  installedAt: 0, updatedAt: 0, installed: true,
};

const grantFor = (domain: string, over: Partial<InstallGrant> = {}): InstallGrant => ({
  memberId: 'member-1', domain, clientEndpoint: `http://${domain}/rest/`, serverEndpoint: OAUTH, applicationToken: 'old-app-token',
  accessToken: 'installing-token', refreshToken: 'refresh', expiresInSeconds: 3600, scope: '', status: 'L', ...over,
});

/** The OAuth server: app.info names the installation its token belongs to. */
function oauthNaming(domain: string | null): typeof fetch {
  return (async () => domain === null
    ? new Response(JSON.stringify({ error: 'invalid_token' }), { status: 401 })
    : new Response(JSON.stringify({
      result: { client_id: 'local.app.1', install: { member_id: 'member-1', domain, client_endpoint: `http://${domain}/rest/` } },
    }), { status: 200 })) as typeof fetch;
}

function deps(oauth: typeof fetch, profile: FrameProfile | BitrixError, asked: FrameTarget[] = []): InstallDeps {
  const clients = {
    profileOf: async (target: FrameTarget) => {
      asked.push(target);
      if (profile instanceof BitrixError) throw profile;
      return profile;
    },
  } as unknown as PortalBitrixClients;
  return {
    store: { portals: { get: (id: string) => (id === stored.memberId ? stored : undefined) } } as unknown as Store,
    clients, publicUrl: 'http://app.example', log: createLogger('silent'),
    trust: { oauthServer: OAUTH, clientId: 'local.app.1', portalAddress: { allowLoopback: true, allowPrivate: false }, fetch: oauth },
  };
}

const statusOf = async (p: Promise<unknown>): Promise<number> => p.then(() => 200, (err: unknown) => (err as { status: number }).status);

describe('every install grant needs the OAuth server and an admin', () => {
  it('refuses the old application token with tokens the OAuth server does not know (401), without asking the portal', async () => {
    const asked: FrameTarget[] = [];
    expect(await statusOf(admitGrant(deps(oauthNaming(null), { userId: 1, isAdmin: true }, asked), grantFor(NEW)))).toBe(401);
    expect(await statusOf(admitGrant(deps(oauthNaming(null), { userId: 1, isAdmin: true }, asked), grantFor(OLD)))).toBe(401);
    expect(asked).toEqual([]);
  });

  it('refuses a re-install by a user who is not an admin (403), and one whose token the portal refuses (401)', async () => {
    expect(await statusOf(admitGrant(deps(oauthNaming(OLD), { userId: 5, isAdmin: false }), grantFor(OLD)))).toBe(403);
    expect(await statusOf(admitGrant(deps(oauthNaming(OLD), new BitrixError('NO_AUTH_FOUND', 'no', 401, false)), grantFor(OLD)))).toBe(401);
    expect(await statusOf(admitGrant(deps(oauthNaming(OLD), new BitrixError('NETWORK_ERROR', 'down', 0, true)), grantFor(OLD)))).toBe(503);
  });

  it('moves a portal to a new address only when the OAuth server names it, asking the admin check there', async () => {
    const asked: FrameTarget[] = [];
    const admitted = await admitGrant(deps(oauthNaming(NEW), { userId: 1, isAdmin: true }, asked), grantFor(NEW));
    expect(admitted.grant.clientEndpoint).toBe(`http://${NEW}/rest/`);
    expect(asked.map((t) => t.clientEndpoint)).toEqual([`http://${NEW}/rest/`]);
    // The OAuth server still names the old address: a request naming a new one is refused.
    expect(await statusOf(admitGrant(deps(oauthNaming(OLD), { userId: 1, isAdmin: true }), grantFor(NEW)))).toBe(401);
  });

  it('keeps the configured OAuth server whatever the grant names', async () => {
    const admitted = await admitGrant(deps(oauthNaming(OLD), { userId: 1, isAdmin: true }), grantFor(OLD, { serverEndpoint: 'https://evil.example/rest/' }));
    expect(admitted.grant.serverEndpoint).toBe(OAUTH);
  });
});
