import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../server/log.js';
import { loadConfig } from '../../../server/config.js';
import type { InstallGrant } from '../../../server/portals/install-request.js';
import { assertPortalAddressAllowed, confirmNewInstall, installTrustFrom, mismatchesOf, type InstallTrust, type TrustedInstall } from '../../../server/portals/install-trust.js';

/**
 * Why: an install for an unknown member_id used to be stored on the request's word, so anyone could create a
 * "portal" whose client_endpoint the server would then call (SSRF). Now the trusted OAuth server must confirm it.
 */

const OAUTH = 'https://oauth.bitrix.info/rest/';
const log = createLogger('silent');

const grant: InstallGrant = {
  memberId: 'member-1', domain: 'acme.bitrix24.com', clientEndpoint: 'https://acme.bitrix24.com/rest/', serverEndpoint: OAUTH,
  applicationToken: 'app-token', accessToken: 'access-1', refreshToken: 'refresh-1', expiresInSeconds: 3600, scope: '', status: 'L',
};

/** What oauth.bitrix.info/rest/app.info answers for the token of that install (shape: bitrix24/b24pysdk). */
function appInfo(install: Partial<TrustedInstall['install']> = {}, clientId = 'app.client'): unknown {
  return {
    result: {
      client_id: clientId, scope: 'crm,telephony', expires: '2026-11-26T23:00:00+00:00', user_id: 1,
      install: {
        installed: true, version: 1, status: 'L', scope: 'crm,telephony', domain: 'acme.bitrix24.com', uri: 'https://acme.bitrix24.com',
        client_endpoint: 'https://acme.bitrix24.com/rest/', member_id: 'member-1', member_type: 'user', ...install,
      },
    },
    time: { start: 0, finish: 0 },
  };
}

interface Seen { url: string; redirect: RequestRedirect | undefined }

function oauthServer(status: number, body: unknown, seen: Seen[] = []): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    seen.push({ url: String(input), redirect: init?.redirect });
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
}

const trust = (f: typeof fetch, clientId = 'app.client'): InstallTrust => ({
  oauthServer: OAUTH, clientId, portalAddress: { allowLoopback: false, allowPrivate: false }, fetch: f,
});

describe('a new install is confirmed by the trusted OAuth server', () => {
  it('asks app.info on the configured server (not the one the request names), with the install\'s token, without following redirects', async () => {
    const seen: Seen[] = [];
    const named = { ...grant, serverEndpoint: 'https://attacker.example/rest/' };
    await expect(confirmNewInstall(trust(oauthServer(200, appInfo(), seen)), named, log)).resolves.toMatchObject({ client_id: 'app.client' });
    expect(seen).toHaveLength(1);
    const url = new URL(seen[0]?.url ?? '');
    expect(`${url.origin}${url.pathname}`).toBe('https://oauth.bitrix.info/rest/app.info');
    expect(url.searchParams.get('auth')).toBe('access-1');
    expect(seen[0]?.redirect).toBe('error');
  });

  it('refuses tokens the OAuth server does not know (401)', async () => {
    const refused = confirmNewInstall(trust(oauthServer(401, { error: 'invalid_token', error_description: 'The access token provided is invalid.' })), grant, log);
    await expect(refused).rejects.toMatchObject({ code: 'UNAUTHORIZED', status: 401 });
  });

  it('refuses an answer that is not app.info\'s shape', async () => {
    await expect(confirmNewInstall(trust(oauthServer(200, { result: { ID: 5, CODE: 'x' } })), grant, log)).rejects.toMatchObject({ status: 401 });
  });

  it.each([
    ['member_id', { member_id: 'someone-else' }],
    ['domain', { domain: 'other.bitrix24.com' }],
    ['client_endpoint', { client_endpoint: 'https://other.bitrix24.com/rest/' }],
  ])('refuses valid tokens of another installation (%s differs)', async (field, install) => {
    const refused = confirmNewInstall(trust(oauthServer(200, appInfo(install))), grant, log);
    await expect(refused).rejects.toMatchObject({ status: 401 });
    await expect(refused).rejects.toThrow(field);
  });

  it('refuses a token issued to another app when our client_id is configured, accepts any app when it is not', async () => {
    await expect(confirmNewInstall(trust(oauthServer(200, appInfo({}, 'other.app'))), grant, log)).rejects.toThrow(/client_id/);
    await expect(confirmNewInstall(trust(oauthServer(200, appInfo({}, 'other.app')), ''), grant, log)).resolves.toBeDefined();
  });

  it('answers 503 when the OAuth server cannot be reached (not the requester\'s fault, nothing decided)', async () => {
    const down = (async () => { throw new TypeError('fetch failed'); }) as typeof fetch;
    await expect(confirmNewInstall(trust(down), grant, log)).rejects.toMatchObject({ code: 'OAUTH_SERVER_UNREACHABLE', status: 503 });
  });

  it('compares endpoints without caring about host case or a missing trailing slash, but about the scheme', () => {
    const trusted = (appInfo() as { result: TrustedInstall }).result;
    expect(mismatchesOf({ ...grant, clientEndpoint: 'https://ACME.bitrix24.com/rest' }, trusted, 'app.client')).toEqual([]);
    expect(mismatchesOf({ ...grant, clientEndpoint: 'http://acme.bitrix24.com/rest/' }, trusted, 'app.client')).toEqual(['client_endpoint']);
  });
});

describe('the portal address an install names (SSRF)', () => {
  const strict = { allowLoopback: false, allowPrivate: false };
  const open = { allowLoopback: true, allowPrivate: true };

  it.each(['http://169.254.169.254/rest/', 'http://[fd00:ec2::254]/rest/', 'http://metadata.google.internal/rest/', 'http://169.254.10.1/rest/'])(
    'refuses %s always, even with loopback and private allowed', async (clientEndpoint) => {
      await expect(assertPortalAddressAllowed({ ...grant, clientEndpoint, domain: 'acme.bitrix24.com' }, { ...open, lookup: async () => [{ address: '93.184.215.5', family: 4 }] }))
        .rejects.toMatchObject({ code: 'PORTAL_ADDRESS_REFUSED', status: 400 });
    },
  );

  it('refuses a DOMAIN that resolves to the metadata service', async () => {
    const lookup = async (host: string) => [{ address: host === 'evil.example' ? '169.254.169.254' : '93.184.215.5', family: 4 }];
    await expect(assertPortalAddressAllowed({ ...grant, domain: 'evil.example' }, { ...open, lookup })).rejects.toThrow(/metadata/);
  });

  it('refuses loopback and private portals unless the operator allowed them (B24_ALLOW_LOOPBACK / B24_ALLOW_PRIVATE)', async () => {
    for (const host of ['127.0.0.1:8080', '10.0.0.7']) {
      const local = { ...grant, domain: host, clientEndpoint: `http://${host}/rest/` };
      await expect(assertPortalAddressAllowed(local, strict)).rejects.toThrow(/B24_ALLOW_(LOOPBACK|PRIVATE)/);
      await expect(assertPortalAddressAllowed(local, open)).resolves.toBeUndefined();
    }
  });

  it('accepts a public portal', async () => {
    await expect(assertPortalAddressAllowed(grant, { ...strict, lookup: async () => [{ address: '93.184.215.5', family: 4 }] })).resolves.toBeUndefined();
  });
});

describe('trust from the configuration', () => {
  it('is strict by default and follows B24_OAUTH_SERVER, B24_CLIENT_ID, B24_ALLOW_LOOPBACK, B24_ALLOW_PRIVATE', () => {
    expect(installTrustFrom(loadConfig({}))).toEqual({ oauthServer: OAUTH, clientId: '', portalAddress: { allowLoopback: false, allowPrivate: false } });
    const set = installTrustFrom(loadConfig({ B24_OAUTH_SERVER: 'http://127.0.0.1:9/rest/', B24_CLIENT_ID: 'c', B24_ALLOW_LOOPBACK: '1', B24_ALLOW_PRIVATE: 'true' }));
    expect(set).toEqual({ oauthServer: 'http://127.0.0.1:9/rest/', clientId: 'c', portalAddress: { allowLoopback: true, allowPrivate: true } });
  });
});
