/**
 * Who a token belongs to, as the portal and the OAuth server tell it:
 * - profile / user.admin answer the token's user and its admin flag, and follow a demotion at once
 *   (https://apidocs.bitrix24.com/api-reference/common/users/profile.html; user.admin: dev.1c-bitrix.ru/rest_help/general/user_admin.php);
 * - a deactivated user's tokens stop working (401 authorization_error, the form the PHP SDK reports for a user that
 *   cannot be authorized; UNCONFIRMED that deactivation yields exactly this code);
 * - app.info answers for the calling application: CODE = the local app's client_id
 *   (https://apidocs.bitrix24.com/api-reference/common/system/app-info.html), and the OAuth server's app.info names
 *   the token's client_id, for a token of another app too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CLIENT_ID, type Bitrix24Cloud } from '../../../emulators/bitrix24/emulator.js';
import { callRest, installedPortal, startCloudAndApp, stopCloudAndApp, type FakeApp } from './helpers.js';

let cloud: Bitrix24Cloud;
let app: FakeApp;

beforeAll(async () => {
  ({ cloud, app } = await startCloudAndApp());
});

afterAll(() => stopCloudAndApp(cloud, app));

const OTHER_APP = 'local.otherapp000000001.00000002';

describe('users and applications behind a token', () => {
  it('follows a demotion at once, and refuses every token of a deactivated user', async () => {
    const { portal } = await installedPortal(cloud, app);
    const { id } = cloud.addUser(portal.memberId, { name: 'Dana', admin: true });
    const token = cloud.frameToken(portal.memberId, id).accessToken;
    expect((await callRest(portal.clientEndpoint, 'profile', { auth: token })).body.result).toMatchObject({ ID: String(id), ADMIN: true });
    cloud.updateUser(portal.memberId, id, { admin: false });
    expect((await callRest(portal.clientEndpoint, 'profile', { auth: token })).body.result).toMatchObject({ ADMIN: false });
    expect((await callRest(portal.clientEndpoint, 'user.admin', { auth: token })).body.result).toBe(false);
    cloud.updateUser(portal.memberId, id, { active: false });
    const refused = await callRest(portal.clientEndpoint, 'profile', { auth: token });
    expect([refused.status, refused.body.error]).toEqual([401, 'authorization_error']);
    const inBatch = await callRest(portal.clientEndpoint, 'batch', { auth: token, cmd: { p: 'profile' } });
    expect(inBatch.status).toBe(401);
  });

  it('app.info names the application the token was issued to, on the portal and on the OAuth server', async () => {
    const { portal, adminToken } = await installedPortal(cloud, app);
    expect((await callRest(portal.clientEndpoint, 'app.info', { auth: adminToken })).body.result).toMatchObject({ CODE: DEFAULT_CLIENT_ID });
    const foreign = cloud.frameToken(portal.memberId, 1, { clientId: OTHER_APP }).accessToken;
    expect((await callRest(portal.clientEndpoint, 'profile', { auth: foreign })).body.result).toMatchObject({ ID: '1', ADMIN: true });
    expect((await callRest(portal.clientEndpoint, 'app.info', { auth: foreign })).body.result).toMatchObject({ CODE: OTHER_APP });
    const oauth = await fetch(`${portal.serverEndpoint}app.info?auth=${foreign}`);
    expect(((await oauth.json()) as { result: { client_id: string } }).result.client_id).toBe(OTHER_APP);
  });
});
