import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBitrix24Emulator, type Bitrix24Emulator, type PortalInfo } from '../../emulators/bitrix24/harness.js';
import type { RunningServer } from '../../../server/index.js';
import { eventually, freePort, startTestServer, tempDataDir, testConfig } from './server-under-test.js';

/**
 * Before: POST /install and ONAPPINSTALL for a member_id the server did not know were stored on the request's word,
 * so anyone could create a "portal" whose client_endpoint (e.g. http://169.254.169.254/) the server then called.
 * After: a new portal is admitted only when the trusted OAuth server (here the emulator's, B24_OAUTH_SERVER) confirms
 * the tokens belong to that member_id, domain and client endpoint; metadata/link-local portal addresses never pass.
 */

const DEAD_APP = 'http://127.0.0.1:9';

describe('a new install must be confirmed by the trusted OAuth server', () => {
  let emulator: Bitrix24Emulator;
  let server: RunningServer;
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let appUrl: string;
  /** App present on the emulated portal (Bitrix24 issued it tokens) but never installed on our server. */
  let stranger: PortalInfo;
  let strangerAdmin: number;

  beforeAll(async () => {
    emulator = await startBitrix24Emulator({ rateLimit: false });
    data = await tempDataDir();
    const port = await freePort();
    appUrl = `http://127.0.0.1:${port}`;
    server = await startTestServer(testConfig(data.dir, port));
    stranger = await emulator.createPortal();
    strangerAdmin = (await emulator.addUser(stranger.memberId, { name: 'Sam', lastName: 'Stranger', email: 'sam@example.com', admin: true })).id;
    await emulator.install(stranger.memberId, { appUrl: DEAD_APP, installHandler: null });
  });

  afterAll(async () => {
    await server?.close();
    await emulator?.stop();
    await data?.remove();
  });

  async function installerPost(fields: Record<string, string>, query: Record<string, string>): Promise<Response> {
    return fetch(`${server.url}/install?${new URLSearchParams({ PROTOCOL: '0', LANG: 'en', APP_SID: 'sid', ...query }).toString()}`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ AUTH_EXPIRES: '3600', status: 'L', PLACEMENT: 'DEFAULT', ...fields }).toString(),
    });
  }

  async function installEvent(auth: Record<string, string>): Promise<Response> {
    const form = new URLSearchParams({ event: 'ONAPPINSTALL', 'data[VERSION]': '1', 'data[INSTALLED]': 'Y', ts: '1' });
    for (const [k, v] of Object.entries(auth)) form.set(`auth[${k}]`, v);
    return fetch(`${server.url}/b24/events`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
  }

  async function strangerToken(): Promise<{ accessToken: string; refreshToken: string }> {
    return emulator.frameToken(stranger.memberId, strangerAdmin);
  }

  /** ONAPPINSTALL for the stranger's portal with its own real tokens, naming the portal address the test chooses. */
  async function strangerInstallEvent(t: { accessToken: string; refreshToken: string }, address: { domain: string; client_endpoint: string }): Promise<Response> {
    return installEvent({
      access_token: t.accessToken, refresh_token: t.refreshToken, member_id: stranger.memberId, application_token: stranger.applicationToken,
      ...address,
    });
  }

  async function errorCodeOf(res: Response): Promise<string> {
    return ((await res.json()) as { error: string }).error;
  }

  it('refuses an installer POST for an unknown member_id whose tokens the OAuth server does not know: 401, nothing stored', async () => {
    const res = await installerPost(
      { AUTH_ID: 'made-up-access', REFRESH_ID: 'made-up-refresh', member_id: 'unknown-member', APPLICATION_TOKEN: 'made-up-app', SERVER_ENDPOINT: emulator.serverEndpoint },
      { DOMAIN: stranger.domain },
    );
    expect(res.status).toBe(401);
    expect(await res.text()).toMatch(/OAuth server does not confirm/);
    expect(server.services.store.portals.get('unknown-member')).toBeUndefined();
    expect(server.services.store.portals.list()).toHaveLength(0);
  });

  it('refuses ONAPPINSTALL for an unknown member_id with unknown tokens before answering 200: 401, nothing stored', async () => {
    const res = await installEvent({
      access_token: 'made-up-access', refresh_token: 'made-up-refresh', member_id: 'unknown-member', application_token: 'made-up-app',
      domain: stranger.domain, client_endpoint: stranger.clientEndpoint, server_endpoint: emulator.serverEndpoint,
    });
    expect(res.status).toBe(401);
    expect(server.services.store.portals.list()).toHaveLength(0);
  });

  it('refuses real tokens presented for another member_id or another portal address (401): they prove only their own install', async () => {
    const t = await strangerToken();
    const asVictim = await installerPost(
      { AUTH_ID: t.accessToken, REFRESH_ID: t.refreshToken, member_id: 'victim-member', APPLICATION_TOKEN: stranger.applicationToken },
      { DOMAIN: stranger.domain },
    );
    expect(asVictim.status).toBe(401);
    expect(await asVictim.text()).toMatch(/member_id/);
    // Loopback is allowed in tests, so only the OAuth server's answer stops this one from pointing us at a local service.
    const elsewhere = await strangerInstallEvent(t, { domain: '127.0.0.1:9', client_endpoint: 'http://127.0.0.1:9/rest/' });
    expect(elsewhere.status).toBe(401);
    expect(server.services.store.portals.list()).toHaveLength(0);
  });

  it('refuses a client_endpoint on the cloud metadata address even with valid tokens and member_id (400)', async () => {
    const t = await strangerToken();
    const viaEvent = await strangerInstallEvent(t, { domain: stranger.domain, client_endpoint: 'http://169.254.169.254/rest/' });
    expect(viaEvent.status).toBe(400);
    expect(await errorCodeOf(viaEvent)).toBe('PORTAL_ADDRESS_REFUSED');
    const viaInstaller = await installerPost(
      { AUTH_ID: t.accessToken, REFRESH_ID: t.refreshToken, member_id: stranger.memberId, APPLICATION_TOKEN: stranger.applicationToken },
      { DOMAIN: '169.254.169.254' },
    );
    expect(viaInstaller.status).toBe(400);
    expect(await viaInstaller.text()).toMatch(/metadata/);
    expect(server.services.store.portals.list()).toHaveLength(0);
  });

  it('admits the same portal when Bitrix24 installs it for real, and stores the configured OAuth server, not the one the request names', async () => {
    const t = await strangerToken();
    const res = await installerPost(
      {
        AUTH_ID: t.accessToken, REFRESH_ID: t.refreshToken, member_id: stranger.memberId, APPLICATION_TOKEN: stranger.applicationToken,
        SERVER_ENDPOINT: 'http://127.0.0.1:9/rest/',
      },
      { DOMAIN: stranger.domain },
    );
    expect(res.status).toBe(200);
    const stored = server.services.store.portals.get(stranger.memberId);
    expect(stored?.clientEndpoint).toBe(stranger.clientEndpoint);
    expect(stored?.serverEndpoint).toBe(emulator.serverEndpoint);
    expect(stored?.installed).toBe(true);
  });

  it('refuses a metadata client_endpoint for a known portal too, even with its application token, and keeps the stored address', async () => {
    const t = await strangerToken();
    const res = await strangerInstallEvent(t, { domain: stranger.domain, client_endpoint: 'http://[::ffff:169.254.169.254]/rest/' });
    expect(res.status).toBe(400);
    expect(await errorCodeOf(res)).toBe('PORTAL_ADDRESS_REFUSED');
    expect(server.services.store.portals.get(stranger.memberId)?.clientEndpoint).toBe(stranger.clientEndpoint);
  });

  it('installs a fresh portal through the whole Bitrix24 flow (installer POST and ONAPPINSTALL both confirmed)', async () => {
    const fresh = await emulator.createPortal();
    await emulator.addUser(fresh.memberId, { name: 'Ann', lastName: 'Admin', email: 'ann@example.com', admin: true });
    const result = await emulator.install(fresh.memberId, { appUrl });
    expect(result.installerPage.status).toBe(200);
    expect(result.installEvent?.status).toBe(200);
    await eventually(() => server.services.store.portals.get(fresh.memberId)?.installed === true);
    expect(server.services.store.portals.get(fresh.memberId)?.applicationToken).toBe(fresh.applicationToken);
  });
});

describe('the emulator\'s OAuth server answers app.info as oauth.bitrix.info does', () => {
  let emulator: Bitrix24Emulator;

  beforeAll(async () => {
    emulator = await startBitrix24Emulator({ rateLimit: false });
  });

  afterAll(async () => {
    await emulator?.stop();
  });

  it('names the token\'s own installation, and refuses unknown and expired tokens with 401', async () => {
    const portal = await emulator.createPortal();
    const admin = (await emulator.addUser(portal.memberId, { name: 'Ann', admin: true })).id;
    await emulator.install(portal.memberId, { appUrl: DEAD_APP, installHandler: null });
    const t = await emulator.frameToken(portal.memberId, admin);
    const ok = await fetch(`${emulator.serverEndpoint}app.info?auth=${t.accessToken}`);
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { result: { client_id: string; user_id: number; install: Record<string, unknown> } };
    expect(body.result.client_id).toBe(emulator.clientId);
    expect(body.result.user_id).toBe(admin);
    expect(body.result.install).toMatchObject({ member_id: portal.memberId, domain: portal.domain, client_endpoint: portal.clientEndpoint });

    const unknown = await fetch(`${emulator.serverEndpoint}app.info/?auth=nope`);
    expect(unknown.status).toBe(401);
    expect(((await unknown.json()) as { error: string }).error).toBe('invalid_token');

    await emulator.expireAccessTokens(portal.memberId);
    const expired = await fetch(`${emulator.serverEndpoint}app.info`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `auth=${t.accessToken}`,
    });
    expect(expired.status).toBe(401);
    expect(((await expired.json()) as { error: string }).error).toBe('expired_token');
  });
});
