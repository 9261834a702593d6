/**
 * telephony.externalCall.* and externalLine.* as documented: errors, the 30-minute dedup, CRM binding and
 * auto-create, the call activity from finish, the three attachRecord modes, click-to-call.
 * https://apidocs.bitrix24.com/api-reference/telephony/index.html
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bitrix24Cloud } from '../../../emulators/bitrix24/emulator.js';
import { callRest, installedPortal, resultOf, startCloudAndApp, stopCloudAndApp, tinyWav, type FakeApp } from './helpers.js';

let cloud: Bitrix24Cloud;
let app: FakeApp;
let files: Server;
let filesUrl: string;

beforeAll(async () => {
  ({ cloud, app } = await startCloudAndApp());
  files = createServer((req, res) => {
    if (req.url === '/rec.wav') {
      res.writeHead(200, { 'content-type': 'audio/wav' });
      res.end(tinyWav());
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', () => resolve()));
  filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await stopCloudAndApp(cloud, app);
  await new Promise<void>((resolve) => files.close(() => resolve()));
});

async function setup() {
  const { portal, adminToken } = await installedPortal(cloud, app);
  const agent = cloud.addUser(portal.memberId, { name: 'Ann', innerPhone: '101' });
  const rest = (method: string, params: Record<string, unknown> = {}) => callRest(portal.clientEndpoint, method, { auth: adminToken, ...params });
  return { portal, adminToken, agent, rest };
}

describe('externalLine', () => {
  it('adds, lists, updates, deletes, and refuses a duplicate or missing NUMBER', async () => {
    const { rest } = await setup();
    expect(resultOf(await rest('telephony.externalLine.add', { NUMBER: 'line-1', NAME: 'Main' })).ID).toBe(1);
    expect((await rest('telephony.externalLine.add', { NUMBER: 'line-1' })).body.error_description).toBe('Line already exists');
    expect((await rest('telephony.externalLine.add', {})).body.error_description).toBe('NUMBER should not be empty');
    expect((await rest('telephony.externalLine.get')).body.result).toEqual([{ NUMBER: 'line-1', NAME: 'Main', CRM_AUTO_CREATE: 'Y' }]);
    expect((await rest('telephony.externalLine.update', { NUMBER: 'line-1' })).body.error_description).toBe('There are no fields to update');
    expect((await rest('telephony.externalLine.update', { NUMBER: 'line-1', CRM_AUTO_CREATE: 'N' })).body.result).toEqual({ ID: '1' });
    expect((await rest('telephony.externalLine.delete', { NUMBER: 'nope' })).body.error_description).toBe('Could not find line with number nope');
    expect((await rest('telephony.externalLine.delete', { NUMBER: 'line-1' })).body.result).toEqual([]);
  });
});

describe('register and finish', () => {
  it('refuses what the docs list', async () => {
    const { portal, rest } = await setup();
    cloud.addUser(portal.memberId, { name: 'Gone', innerPhone: '199', active: false });
    const cases: [Record<string, unknown>, string][] = [
      [{ PHONE_NUMBER: '+15550001', TYPE: 2 }, 'USER_ID or USER_PHONE_INNER should be set'],
      [{ USER_PHONE_INNER: '101', PHONE_NUMBER: '+15550001', TYPE: 9 }, 'Unknown TYPE'],
      [{ USER_PHONE_INNER: '101', PHONE_NUMBER: 'anonymous', TYPE: 2 }, 'Unsupported phone number format'],
      [{ USER_PHONE_INNER: '199', PHONE_NUMBER: '+15550001', TYPE: 2 }, 'User is not found or is not active'],
      [{ USER_ID: 9999, PHONE_NUMBER: '+15550001', TYPE: 2 }, 'User is not found or is not active'],
      [{ USER_ID: 1, PHONE_NUMBER: '+15550001', TYPE: 2, CALL_START_DATE: 'yesterday' }, 'CALL_START_DATE should be in the ISO-8601 format'],
    ];
    for (const [params, description] of cases) {
      const answer = await rest('telephony.externalCall.register', params);
      expect(answer.status).toBe(400);
      expect(answer.body).toEqual({ error: 'ERROR_CORE', error_description: description });
    }
    const finish = await rest('telephony.externalCall.finish', { CALL_ID: 'externalCall.0.0', USER_ID: 1 });
    expect(finish.body.error_description).toBe('Call is not found (call should be registered prior to finishing)');
    expect((await rest('telephony.externalCall.finish', { USER_ID: 1 })).body.error).toBe('INVALID_ARGUMENT');
  });

  it('returns the same CALL_ID within 30 minutes for the same key while not finished', async () => {
    const { rest, agent } = await setup();
    const base = { USER_ID: agent.id, PHONE_NUMBER: '+15550002', TYPE: 2, LINE_NUMBER: 'l1' };
    const a = resultOf(await rest('telephony.externalCall.register', { ...base, EXTERNAL_CALL_ID: 'u1' })).CALL_ID;
    const again = resultOf(await rest('telephony.externalCall.register', { ...base, EXTERNAL_CALL_ID: 'u1' })).CALL_ID;
    const other = resultOf(await rest('telephony.externalCall.register', { ...base, EXTERNAL_CALL_ID: 'u2' })).CALL_ID;
    expect(again).toBe(a);
    expect(other).not.toBe(a);
    expect((await rest('telephony.externalCall.finish', { CALL_ID: a, USER_ID: agent.id, DURATION: 3 })).status).toBe(200);
    const second = await rest('telephony.externalCall.finish', { CALL_ID: a, USER_ID: agent.id });
    expect(second.body.error_description).toBe('Call is not found (call should be registered prior to finishing)');
    const afterFinish = resultOf(await rest('telephony.externalCall.register', { ...base, EXTERNAL_CALL_ID: 'u1' })).CALL_ID;
    expect(afterFinish).not.toBe(a);
  });

  it('binds to a known contact, creates a lead with CRM_CREATE, and finish writes the call activity', async () => {
    const { portal, rest, agent } = await setup();
    const contactId = cloud.seedCrm(portal.memberId, 'CONTACT', { NAME: 'Known', PHONE: [{ VALUE: '+44 20 7946 0001' }] });
    const known = resultOf(await rest('telephony.externalCall.register', { USER_ID: agent.id, PHONE_NUMBER: '442079460001', TYPE: 2 }));
    expect([known.CRM_ENTITY_TYPE, known.CRM_ENTITY_ID, known.CRM_CREATED_LEAD]).toEqual(['CONTACT', contactId, null]);

    const unknown = resultOf(await rest('telephony.externalCall.register', { USER_ID: agent.id, PHONE_NUMBER: '+15550003', TYPE: 2, CRM_CREATE: 1 }));
    expect(unknown.CRM_ENTITY_TYPE).toBe('LEAD');
    expect(unknown.CRM_CREATED_LEAD).toBe(unknown.CRM_ENTITY_ID);
    expect(unknown.CRM_CREATED_ENTITIES).toEqual([{ ENTITY_TYPE: 'LEAD', ENTITY_ID: unknown.CRM_ENTITY_ID }]);
    const noCreate = resultOf(await rest('telephony.externalCall.register', { USER_ID: agent.id, PHONE_NUMBER: '+15550004', TYPE: 2 }));
    expect([noCreate.CRM_ENTITY_TYPE, noCreate.CRM_ENTITY_ID]).toEqual(['', null]);

    const fin = resultOf(await rest('telephony.externalCall.finish', { CALL_ID: known.CALL_ID, USER_PHONE_INNER: '101', DURATION: 61, STATUS_CODE: '200' }));
    expect(fin).toMatchObject({ CALL_ID: known.CALL_ID, PORTAL_USER_ID: agent.id, INCOMING: '2', CALL_DURATION: 61, CALL_STATUS: 1, CALL_FAILED_CODE: '200', CRM_ENTITY_TYPE: 'CONTACT', CRM_ENTITY_ID: contactId });
    const missed = resultOf(await rest('telephony.externalCall.finish', { CALL_ID: noCreate.CALL_ID, USER_ID: agent.id }));
    expect([missed.CALL_FAILED_CODE, missed.CALL_STATUS, missed.CRM_ACTIVITY_ID]).toEqual(['304', 0, null]);

    const activities = await rest('crm.activity.list', { filter: { OWNER_TYPE_ID: 3, OWNER_ID: contactId, TYPE_ID: 2 } });
    expect(activities.body.result).toEqual([expect.objectContaining({ ID: String(fin.CRM_ACTIVITY_ID), PROVIDER_ID: 'VOXIMPLANT_CALL', DIRECTION: '1', RESPONSIBLE_ID: String(agent.id) })]);
  });

  it('shows and hides the card for one user or several', async () => {
    const { portal, rest, agent } = await setup();
    const other = cloud.addUser(portal.memberId, { name: 'Bob', innerPhone: '102' });
    const reg = resultOf(await rest('telephony.externalCall.register', { USER_ID: agent.id, PHONE_NUMBER: '+15550005', TYPE: 2, SHOW: 0 }));
    expect((await rest('telephony.externalCall.show', { CALL_ID: reg.CALL_ID, USER_ID: [agent.id, other.id] })).body.result).toBe(true);
    expect((await rest('telephony.externalCall.hide', { CALL_ID: reg.CALL_ID, USER_ID: other.id })).body.result).toBe(true);
    const call = cloud.calls(portal.memberId).find((c) => c.callId === reg.CALL_ID);
    expect(call?.shownTo).toEqual([agent.id]);
    expect(call?.showHistory.map((h) => [h.action, h.userIds])).toEqual([['show', [agent.id, other.id]], ['hide', [other.id]]]);
  });
});

describe('searchCrmEntities and manual call activities', () => {
  it('finds entities by phone with the responsible user, and adds a call activity by hand', async () => {
    const { portal, rest, agent } = await setup();
    const contact = cloud.seedCrm(portal.memberId, 'CONTACT', { NAME: 'Sam', LAST_NAME: 'Search', ASSIGNED_BY_ID: agent.id, PHONE: [{ VALUE: '+1 555 0900' }] });
    const found = await rest('telephony.externalCall.searchCrmEntities', { PHONE_NUMBER: '15550900' });
    expect(found.body.result).toEqual([
      expect.objectContaining({ CRM_ENTITY_TYPE: 'CONTACT', CRM_ENTITY_ID: contact, ASSIGNED_BY_ID: agent.id, NAME: 'Sam Search', ASSIGNED_BY: expect.objectContaining({ USER_PHONE_INNER: '101' }) }),
    ]);
    expect((await rest('telephony.externalCall.searchCrmEntities', {})).body.error_description).toBe('PHONE_NUMBER is empty');
    const added = await rest('crm.activity.add', {
      fields: { OWNER_TYPE_ID: 3, OWNER_ID: contact, TYPE_ID: 2, SUBJECT: 'Manual', DIRECTION: 2, RESPONSIBLE_ID: agent.id, COMMUNICATIONS: [{ VALUE: '+15550900', ENTITY_ID: contact, ENTITY_TYPE_ID: 3 }] },
    });
    expect(typeof added.body.result).toBe('number');
    expect((await rest('crm.activity.add', { fields: { OWNER_TYPE_ID: 3, OWNER_ID: contact, TYPE_ID: 2 } })).status).toBe(400);
    const listed = await rest('crm.activity.list', { filter: { OWNER_ID: contact } });
    expect((listed.body.result as { SUBJECT: string }[]).map((a) => a.SUBJECT)).toEqual(['Manual']);
  });
});

describe('attachRecord', () => {
  it('refuses before finish and wrong files; accepts base64, a URL and the upload URL', async () => {
    const { portal, rest, agent } = await setup();
    const reg = resultOf(await rest('telephony.externalCall.register', { USER_ID: agent.id, PHONE_NUMBER: '+15550006', TYPE: 1 }));
    const wav = tinyWav().toString('base64');
    expect((await rest('telephony.externalCall.attachRecord', { CALL_ID: reg.CALL_ID, FILENAME: 'a.wav', FILE_CONTENT: wav })).body.error_description).toBe(
      'Call is not found in the statistic table. It looks like it is not finished yet.',
    );
    await rest('telephony.externalCall.finish', { CALL_ID: reg.CALL_ID, USER_ID: agent.id, DURATION: 5 });
    const attach = (p: Record<string, unknown>) => rest('telephony.externalCall.attachRecord', { CALL_ID: reg.CALL_ID, ...p });
    expect((await attach({ FILENAME: 'a.ogg', FILE_CONTENT: wav })).body.error_description).toBe('Wrong file extension. Only wav and mp3 are allowed');
    expect((await attach({ FILENAME: 'a.wav', FILE_CONTENT: '%%%' })).body.error_description).toBe('File content is not properly encoded. Base64 encoding is expected.');
    expect((await attach({ FILENAME: 'a.wav', FILE_CONTENT: Buffer.from('{"error":1}').toString('base64') })).status).toBe(400);
    expect((await attach({})).body.error_description).toBe('Required parameters are not set. Request should contain either URL or FILENAME parameter');

    expect(typeof resultOf(await attach({ FILENAME: 'a.wav', FILE_CONTENT: wav })).FILE_ID).toBe('number');
    expect(typeof resultOf(await attach({ RECORD_URL: `${filesUrl}/rec.wav` })).FILE_ID).toBe('number');
    expect((await attach({ RECORD_URL: `${filesUrl}/missing.wav` })).body.error_description).toBe('Server returns HTTP error code 404');

    const upload = resultOf(await attach({ FILENAME: 'big.wav' }));
    expect(upload.fieldName).toBe('file');
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(tinyWav())]), 'big.wav');
    const posted = await fetch(String(upload.uploadUrl), { method: 'POST', body: form });
    expect(posted.status).toBe(200);

    const records = cloud.calls(portal.memberId).find((c) => c.callId === reg.CALL_ID)?.records ?? [];
    expect(records.map((r) => [r.via, r.kind, r.size, r.valid])).toEqual([
      ['content', 'wav', 48, true],
      ['url', 'wav', 48, true],
      ['upload', 'wav', 48, true],
    ]);
  });
});

describe('click-to-call', () => {
  it('registers internally and sends ONEXTERNALCALLSTART only after install finished, to bound handlers', async () => {
    const portal = await cloud.createPortal();
    await cloud.install(portal.memberId, { appUrl: app.url });
    const admin = cloud.frameToken(portal.memberId, 1).accessToken;
    const agent = cloud.addUser(portal.memberId, { name: 'Ann', innerPhone: '101' });
    await callRest(portal.clientEndpoint, 'telephony.externalLine.add', { auth: admin, NUMBER: 'line-7' });
    await callRest(portal.clientEndpoint, 'event.bind', { auth: admin, event: 'ONEXTERNALCALLSTART', handler: `${app.url}/b24/events` });
    const contactId = cloud.seedCrm(portal.memberId, 'CONTACT', { NAME: 'C', PHONE: [{ VALUE: '+15550007' }] });

    const early = await cloud.clickToCall(portal.memberId, { userId: agent.id, phoneNumber: '+15550007' });
    expect(early.deliveries).toEqual([]);
    cloud.finishInstall(portal.memberId);
    const click = await cloud.clickToCall(portal.memberId, { userId: agent.id, phoneNumber: '+15550007' });
    expect(click.deliveries).toHaveLength(1);
    const form = click.deliveries[0]?.form ?? {};
    expect(form).toMatchObject({
      event: 'ONEXTERNALCALLSTART',
      'data[CALL_ID]': click.callId,
      'data[USER_ID]': String(agent.id),
      'data[PHONE_NUMBER]': '+15550007',
      'data[LINE_NUMBER]': 'line-7',
      'data[CRM_ENTITY_TYPE]': 'CONTACT',
      'data[CRM_ENTITY_ID]': String(contactId),
      'auth[member_id]': portal.memberId,
      'auth[application_token]': portal.applicationToken,
      'auth[client_endpoint]': portal.clientEndpoint,
    });
    expect(form['auth[server_endpoint]']).toBeUndefined();
    expect(cloud.calls(portal.memberId).find((c) => c.callId === click.callId)?.externalCallId).toBeNull();

    const fin = await callRest(portal.clientEndpoint, 'telephony.externalCall.finish', { auth: admin, CALL_ID: click.callId, USER_ID: agent.id, DURATION: 9 });
    expect(resultOf(fin).INCOMING).toBe('1');

    const forged = await cloud.sendEvent(portal.memberId, 'ONEXTERNALCALLSTART', { CALL_ID: 'x' }, { forgeToken: true });
    expect(forged[0]?.form['auth[application_token]']).not.toBe(portal.applicationToken);
  });
});
