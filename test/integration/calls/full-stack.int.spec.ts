import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../../server/index.js';
import { DEFAULT_SETTINGS } from '../../../server/store/records.js';
import { startBitrix24Emulator, type Bitrix24Emulator, type CallView, type PortalInfo } from '../../emulators/bitrix24/harness.js';
import { startYeastarEmulator, type YeastarEmulator } from '../../emulators/yeastar/harness.js';
import { eventually, freePort, startTestServer, tempDataDir, testConfig } from '../foundation/server-under-test.js';
import { callsProductParts, type WiredParts } from './product-parts.js';

/**
 * The whole product on its composition root (startServer) against both emulators: a PBX call goes in over the Yeastar
 * WebSocket and comes out as Bitrix24 REST calls on the emulated portal, as Bitrix24 would see them.
 * The parts factory (product-parts.ts) is the wiring server/calls/index.ts documents for startServer.
 */

const CALLER = '+15550123456';

/** Params as Bitrix24 received them: inside a batch command string every value arrives as text. */
const asText = (params: Record<string, unknown> | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(params ?? {}).map(([k, v]) => [k, String(v)]));

describe('calls end to end (startServer + Bitrix24 and Yeastar emulators)', () => {
  let b24: Bitrix24Emulator;
  let pbx: YeastarEmulator;
  let server: RunningServer;
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let portal: PortalInfo;
  let other: PortalInfo;
  let anna: number;
  let bob: number;
  let contactId: number;

  const wired: WiredParts = {};

  beforeAll(async () => {
    [b24, pbx] = await Promise.all([startBitrix24Emulator(), startYeastarEmulator({ speed: 1000 })]);
    data = await tempDataDir();
    const port = await freePort();
    server = await startTestServer(testConfig(data.dir, port, { PBX_ALLOW_LOOPBACK: '1' }), { parts: callsProductParts(wired) });
    portal = await b24.createPortal();
    other = await b24.createPortal();
    await b24.addUser(portal.memberId, { name: 'Ann', lastName: 'Admin', email: 'ann@example.com', admin: true });
    anna = (await b24.addUser(portal.memberId, { name: 'Anna', lastName: 'Agent', email: 'anna@example.com' })).id;
    bob = (await b24.addUser(portal.memberId, { name: 'Bob', lastName: 'Agent', email: 'bob@example.com' })).id;
    await b24.addUser(other.memberId, { name: 'Olga', lastName: 'Other', email: 'olga@example.com', admin: true });
    for (const p of [portal, other]) {
      const installed = await b24.install(p.memberId, { appUrl: server.url });
      expect(installed.installerPage.status).toBe(200);
      // install.html calls installFinish() in the browser; events are delivered only after it.
      await b24.finishInstall(p.memberId);
    }
    await eventually(() => server.services.store.portals.get(portal.memberId)?.installed === true);
    contactId = await b24.seedCrm(portal.memberId, 'CONTACT', { NAME: 'Carla', LAST_NAME: 'Customer', PHONE: [{ VALUE: CALLER, VALUE_TYPE: 'WORK' }] });
    const { store } = server.services;
    await store.bindings.replace(portal.memberId, [
      { userId: anna, extension: '1001', source: 'manual' },
      { userId: bob, extension: '1002', source: 'manual' },
    ]);
    await store.settings.put(portal.memberId, {
      ...DEFAULT_SETTINGS, enabled: true, defaultCountry: 'US',
      pbx: { baseUrl: pbx.url, clientId: pbx.clientId, clientSecret: pbx.clientSecret, events: 'websocket', webhookSecret: '' },
    });
    await wired.supervisor?.reconcile(portal.memberId);
    await eventually(() => wired.supervisor?.status(portal.memberId).state === 'connected', 10_000);
  });

  afterAll(async () => {
    await server?.close();
    await Promise.all([b24?.stop(), pbx?.stop()]);
    await data?.remove();
  });

  const callOf = async (externalCallIdPart: string): Promise<CallView | undefined> =>
    (await b24.calls(portal.memberId)).find((c) => (c.externalCallId ?? '').includes(externalCallIdPart));

  it('inbound answered: register → finish (answerer, talk seconds, 200) → attachRecord with a playable WAV, in 2 requests', async () => {
    await b24.clearRequests();
    const { callId } = await pbx.scenario('inbound-answered', { to: '1001', talkSeconds: 42, record: true, wait: true });
    let call: CallView | undefined;
    await eventually(async () => {
      call = await callOf(callId);
      return Boolean(call?.finished && call.records.length > 0);
    }, 15_000);
    if (!call?.finished) throw new Error('call not finished');
    expect(call.origin).toBe('register');
    expect(call.registerParams).toMatchObject({ TYPE: 2, USER_ID: anna, PHONE_NUMBER: CALLER, SHOW: 1 });
    expect(call).toMatchObject({ userId: anna, crmEntityType: 'CONTACT', crmEntityId: contactId });
    expect(asText(call.finished.params)).toMatchObject({ USER_ID: String(anna), DURATION: '42', STATUS_CODE: '200' });
    expect(call.records[0]).toMatchObject({ kind: 'wav', valid: true });
    expect(call.records[0]?.at).toBeGreaterThanOrEqual(call.finished.at);
    const file = await b24.recordFile(portal.memberId, call.records[0]?.fileId ?? 0);
    expect(file?.bytes.toString('ascii', 0, 4)).toBe('RIFF');
    const sent = await b24.requests({ memberId: portal.memberId });
    // The number is looked up in all its written forms first (issue 11: a record typed in national form is found with
    // auto-create off too), then the register at the first ring with the record, then finish + attachRecord in one
    // batch — three requests; a later call from the number within the lookup's TTL costs two (the missed call below).
    expect(sent.filter((r) => !r.viaBatch).map((r) => r.method)).toEqual(['crm.duplicate.findbycomm', 'telephony.externalCall.register', 'batch']);
    expect(sent.filter((r) => r.viaBatch).map((r) => r.method)).toEqual(['telephony.externalCall.finish', 'telephony.externalCall.attachRecord']);
  });

  it('inbound missed: finish 304 with DURATION 0', async () => {
    await b24.clearRequests();
    const { callId } = await pbx.scenario('inbound-missed', { to: '1002', wait: true });
    let call: CallView | undefined;
    await eventually(async () => Boolean((call = await callOf(callId))?.finished), 15_000);
    expect(asText(call?.finished?.params)).toMatchObject({ USER_ID: String(bob), DURATION: '0', STATUS_CODE: '304' });
    // A missed call from a number looked up within the cache's TTL costs two requests: register at the ring, finish at the end.
    const sent = await b24.requests({ memberId: portal.memberId });
    expect(sent.filter((r) => !r.viaBatch).map((r) => r.method)).toEqual(['telephony.externalCall.register', 'telephony.externalCall.finish']);
  });

  it('busy: finish 486; ring group: show/hide and exactly one finish for the answerer', async () => {
    const busy = await pbx.scenario('inbound-busy', { to: '1001', wait: true });
    let call: CallView | undefined;
    await eventually(async () => Boolean((call = await callOf(busy.callId))?.finished), 15_000);
    expect(asText(call?.finished?.params)).toMatchObject({ USER_ID: String(anna), DURATION: '0', STATUS_CODE: '486' });

    const group = await pbx.scenario('ring-group', { to: ['1001', '1002'], answeredBy: '1002', talkSeconds: 20, wait: true });
    await eventually(async () => Boolean((call = await callOf(group.callId))?.finished), 15_000);
    expect(asText(call?.registerParams)).toMatchObject({ USER_ID: String(anna), TYPE: '2' });
    // The register itself shows the card to the first ringing user.
    expect(call?.showHistory.map((h) => [h.action, h.userIds])).toEqual([['show', [anna]], ['show', [bob]], ['hide', [anna]]]);
    expect(asText(call?.finished?.params)).toMatchObject({ USER_ID: String(bob), DURATION: '20', STATUS_CODE: '200' });
    expect((await b24.calls(portal.memberId)).filter((c) => (c.externalCallId ?? '').includes(group.callId))).toHaveLength(1);
  });

  it('outbound answered and failed are logged for the calling user; internal calls are not logged', async () => {
    const before = (await b24.calls(portal.memberId)).length;
    const ok = await pbx.scenario('outbound-answered', { from: '1002', to: CALLER, talkSeconds: 9, wait: true });
    let call: CallView | undefined;
    await eventually(async () => Boolean((call = await callOf(ok.callId))?.finished), 15_000);
    expect(asText(call?.registerParams)).toMatchObject({ TYPE: '1', USER_ID: String(bob), PHONE_NUMBER: CALLER });
    expect(asText(call?.finished?.params)).toMatchObject({ USER_ID: String(bob), DURATION: '9', STATUS_CODE: '200' });
    const failed = await pbx.scenario('outbound-failed', { from: '1001', to: CALLER, reason: '404 NOT found', wait: true });
    await eventually(async () => Boolean((call = await callOf(failed.callId))?.finished), 15_000);
    expect(asText(call?.finished?.params)).toMatchObject({ USER_ID: String(anna), DURATION: '0', STATUS_CODE: '404' });
    const internal = await pbx.scenario('internal', { from: '1001', to: '1002', wait: true });
    await eventually(() => server.services.store.calls.get(portal.memberId, internal.callId)?.phase === 'ignored', 10_000);
    expect((await b24.calls(portal.memberId)).length).toBe(before + 2);
  });

  it('click-to-call: call/dial from the bound extension, finish on the event CALL_ID, no register', async () => {
    await pbx.setDialBehavior({ callerAnswers: true, calleeAnswers: true, talkSeconds: 11, record: true, hold: false });
    await b24.clearRequests();
    const { callId, deliveries } = await b24.clickToCall(portal.memberId, { userId: anna, phoneNumber: CALLER, crm: { entityType: 'CONTACT', entityId: contactId } });
    let call: CallView | undefined;
    expect(deliveries.map((d) => d.status)).toEqual([200]);
    await eventually(async () => {
      call = (await b24.calls(portal.memberId)).find((c) => c.callId === callId);
      return Boolean(call?.finished);
    }, 15_000);
    expect(call?.origin).toBe('click_to_call');
    expect(asText(call?.finished?.params)).toMatchObject({ USER_ID: String(anna), DURATION: '11', STATUS_CODE: '200' });
    const dial = (await pbx.requests()).filter((r) => r.path.includes('/call/dial'));
    // A US number dialed from a US portal: 1 + ten digits, the form a US outbound route matches (phone.ts dialNumber).
    expect(dial.at(-1)?.body).toMatchObject({ caller: '1001', callee: CALLER.slice(1) });
    const registers = (await b24.requests({ memberId: portal.memberId, method: 'telephony.externalCall.register' }));
    expect(registers).toHaveLength(0);
  });

  it('the timeline API lists the contact\'s calls newest first, and refuses another portal\'s token', async () => {
    const token = await b24.frameToken(portal.memberId, anna);
    const res = await fetch(`${server.url}/api/calls?entityType=CONTACT&entityId=${contactId}`, {
      headers: { authorization: `Bearer ${token.accessToken}`, 'x-member-id': portal.memberId },
    });
    expect(res.status).toBe(200);
    const page = await res.json() as { calls: { id: string; startedAt: number; crm: unknown }[] };
    expect(page.calls.length).toBeGreaterThanOrEqual(2);
    const times = page.calls.map((c) => c.startedAt);
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const foreign = await b24.frameToken(other.memberId, 1);
    const refused = await fetch(`${server.url}/api/calls?entityType=CONTACT&entityId=${contactId}`, {
      headers: { authorization: `Bearer ${foreign.accessToken}`, 'x-member-id': portal.memberId },
    });
    expect(refused.status).toBe(401);
    expect(wired.calls?.service.callsInFlight()).toBe(0);
  });
});
