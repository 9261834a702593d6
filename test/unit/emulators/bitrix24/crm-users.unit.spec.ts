/**
 * CRM and users as the connector uses them: duplicate search by phone digits, multifield update rules,
 * list paging, user.get filters; events and placements bookkeeping.
 * https://apidocs.bitrix24.com/api-reference/crm/duplicates/crm-duplicate-find-by-comm.html,
 * https://apidocs.bitrix24.com/api-reference/crm/contacts/crm-contact-update.html,
 * https://apidocs.bitrix24.com/api-reference/user/user-get.html
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bitrix24Cloud } from '../../../emulators/bitrix24/emulator.js';
import { callRest, installedPortal, resultOf, startCloudAndApp, stopCloudAndApp, type FakeApp } from './helpers.js';

let cloud: Bitrix24Cloud;
let app: FakeApp;

beforeAll(async () => {
  ({ cloud, app } = await startCloudAndApp());
});

afterAll(() => stopCloudAndApp(cloud, app));

describe('crm.duplicate.findbycomm', () => {
  it('matches phones by digits, keys results by type, refuses bad arguments', async () => {
    const { portal, rest } = await installedPortal(cloud, app);
    const contact = cloud.seedCrm(portal.memberId, 'CONTACT', { NAME: 'A', PHONE: [{ VALUE: '+7 (495) 123-45-67', VALUE_TYPE: 'WORK' }] });
    const lead = cloud.seedCrm(portal.memberId, 'LEAD', { TITLE: 'L', PHONE: [{ VALUE: '74951234567', VALUE_TYPE: 'MOBILE' }] });
    const found = await rest('crm.duplicate.findbycomm', { type: 'PHONE', values: ['+74951234567'] });
    expect(found.body.result).toEqual({ LEAD: [lead], CONTACT: [contact] });
    const onlyContacts = await rest('crm.duplicate.findbycomm', { entity_type: 'CONTACT', type: 'PHONE', values: ['7 495 123 45 67'] });
    expect(onlyContacts.body.result).toEqual({ CONTACT: [contact] });
    expect((await rest('crm.duplicate.findbycomm', { type: 'PHONE', values: ['000'] })).body.result).toEqual([]);
    const noType = await rest('crm.duplicate.findbycomm', { values: ['1'] });
    expect([noType.status, noType.body.error]).toEqual([400, 'Communication type is not defined']);
    expect((await rest('crm.duplicate.findbycomm', { type: 'PHONE' })).body.error).toBe('Communication values is not defined');
    const tooMany = await rest('crm.duplicate.findbycomm', { type: 'PHONE', values: Array.from({ length: 21 }, (_, i) => String(1000 + i)) });
    expect(tooMany.status).toBe(400);
  });

  // Bitrix24 keeps a phone as typed and compares digits: `8 (912) …` and `+7 912 …` are two numbers to it (pitfalls.md
  // #10, asterlink `search_format`). The product's own lookup must send the national form to find such a record.
  it('does not equate a national form with the international one', async () => {
    const { portal, rest } = await installedPortal(cloud, app);
    const contact = cloud.seedCrm(portal.memberId, 'CONTACT', { NAME: 'Ivan', PHONE: [{ VALUE: '8 (912) 345-67-89', VALUE_TYPE: 'MOBILE' }] });
    expect((await rest('crm.duplicate.findbycomm', { type: 'PHONE', values: ['+79123456789'] })).body.result).toEqual([]);
    expect((await rest('crm.duplicate.findbycomm', { type: 'PHONE', values: ['+79123456789', '89123456789'] })).body.result).toEqual({ CONTACT: [contact] });
  });
});

describe('legacy CRM', () => {
  it('adds, gets, updates multifields by the documented rules, lists with select and paging', async () => {
    const { rest } = await installedPortal(cloud, app);
    const id = (await rest('crm.contact.add', { fields: { NAME: 'Eve', PHONE: [{ VALUE: '+1 555 0100', VALUE_TYPE: 'WORK' }, { VALUE: '+1 555 0101', VALUE_TYPE: 'MOBILE' }] } })).body.result;
    expect(typeof id).toBe('number');
    const got = resultOf(await rest('crm.contact.get', { id }));
    const phones = got.PHONE as { ID: string; VALUE: string; VALUE_TYPE: string; TYPE_ID: string }[];
    expect(phones.map((p) => [p.VALUE, p.VALUE_TYPE, p.TYPE_ID])).toEqual([['+1 555 0100', 'WORK', 'PHONE'], ['+1 555 0101', 'MOBILE', 'PHONE']]);
    const [first, second] = phones;
    await rest('crm.contact.update', {
      id,
      fields: { PHONE: [{ ID: first?.ID, VALUE: '+1 555 0199' }, { ID: second?.ID, DELETE: 'Y' }, { VALUE: '+1 555 0102', VALUE_TYPE: 'HOME' }] },
    });
    const after = (resultOf(await rest('crm.contact.get', { id })).PHONE as { VALUE: string }[]).map((p) => p.VALUE);
    expect(after).toEqual(['+1 555 0199', '+1 555 0102']);
    expect((await rest('crm.contact.get', { id: 99999 })).body).toEqual({ error: '', error_description: 'Not found' });

    for (let i = 0; i < 55; i += 1) await rest('crm.lead.add', { fields: { TITLE: `L${i}`, PHONE: [{ VALUE: `+1 555 1${String(i).padStart(3, '0')}` }] } });
    const page1 = await rest('crm.lead.list', { select: ['ID', 'TITLE'] });
    expect((page1.body.result as unknown[]).length).toBe(50);
    expect([page1.body.total, page1.body.next]).toEqual([55, 50]);
    expect(Object.keys((page1.body.result as Record<string, unknown>[])[0] ?? {}).sort()).toEqual(['ID', 'TITLE']);
    const page2 = await rest('crm.lead.list', { start: 50 });
    expect((page2.body.result as unknown[]).length).toBe(5);
    expect(page2.body.next).toBeUndefined();
    const byPhone = await rest('crm.lead.list', { filter: { PHONE: '+1 555 1007' }, select: ['ID', 'PHONE'] });
    expect((byPhone.body.result as { TITLE?: string; PHONE: unknown[] }[]).map((l) => l.PHONE.length)).toEqual([1]);
    const noCount = await rest('crm.lead.list', { start: -1, filter: { '>ID': 50 }, order: { ID: 'ASC' } });
    expect([(noCount.body.result as unknown[]).length, noCount.body.total]).toEqual([5, undefined]);
  });
});

describe('users', () => {
  it('filters by ACTIVE and UF_PHONE_INNER and pages by 50', async () => {
    const { portal, rest } = await installedPortal(cloud, app);
    for (let i = 0; i < 60; i += 1) cloud.addUser(portal.memberId, { name: `U${i}`, innerPhone: String(200 + i), active: i !== 3 });
    const ext = await rest('user.get', { FILTER: { UF_PHONE_INNER: '205' } });
    expect((ext.body.result as { NAME: string; UF_PHONE_INNER: string }[]).map((u) => [u.NAME, u.UF_PHONE_INNER])).toEqual([['U5', '205']]);
    const active = await rest('user.get', { FILTER: { ACTIVE: true } });
    expect([active.body.total, active.body.next]).toEqual([60, 50]);
    const rest2 = await rest('user.get', { FILTER: { ACTIVE: true }, start: 50 });
    expect((rest2.body.result as unknown[]).length).toBe(10);
    const afterId = await rest('user.get', { FILTER: { '>ID': 55 }, sort: 'ID', order: 'DESC', start: -1 });
    expect((afterId.body.result as { ID: string }[]).map((u) => u.ID)).toEqual(['61', '60', '59', '58', '57', '56']);
    expect(afterId.body.total).toBeUndefined();
    expect(((await rest('user.get', { FILTER: { ACTIVE: 'N' } })).body.result as { NAME: string }[]).map((u) => u.NAME)).toEqual(['U3']);
    const me = resultOf(await rest('user.current'));
    expect(me.ID).toBe('1');
    expect((await rest('user.admin')).body.result).toBe(true);
  });
});

describe('events and placements', () => {
  it('binds, lists and unbinds; placement.bind needs an administrator', async () => {
    const { portal, rest } = await installedPortal(cloud, app);
    expect((await rest('event.bind', { event: 'onExternalCallStart', handler: `${app.url}/e` })).body.result).toBe(true);
    expect((await rest('event.bind', { event: 'ONNOTHING', handler: `${app.url}/e` })).body.error).toBe('ERROR_EVENT_NOT_FOUND');
    expect((await rest('event.get')).body.result).toEqual([{ event: 'ONEXTERNALCALLSTART', handler: `${app.url}/e`, auth_type: '0', offline: 0 }]);
    expect((await rest('placement.bind', { PLACEMENT: 'CALL_CARD', HANDLER: `${app.url}/card`, TITLE: 'Card' })).body.result).toBe(true);
    expect((await rest('placement.bind', { PLACEMENT: 'NOPE', HANDLER: `${app.url}/card` })).body.error).toBe('ERROR_PLACEMENT_NOT_FOUND');
    const user = cloud.addUser(portal.memberId, { name: 'Plain' });
    const userToken = cloud.frameToken(portal.memberId, user.id).accessToken;
    const denied = await callRest(portal.clientEndpoint, 'placement.bind', { auth: userToken, PLACEMENT: 'CALL_CARD', HANDLER: `${app.url}/x` });
    expect([denied.status, denied.body.error]).toEqual([403, 'ACCESS_DENIED']);
    const bindings = cloud.bindings(portal.memberId);
    expect(bindings.placements.map((p) => p.placement)).toEqual(['CALL_CARD']);
    expect((await rest('event.unbind', { event: 'ONEXTERNALCALLSTART', handler: `${app.url}/e` })).body.result).toEqual({ count: 1 });
    expect((await rest('placement.unbind', { PLACEMENT: 'CALL_CARD' })).body.result).toEqual({ count: 1 });
    expect((await rest('app.info')).body.result).toMatchObject({ INSTALLED: true, STATUS: 'L' });
  });

  it('opens a bound widget the way Bitrix24 loads it: a form POST with the frame data', async () => {
    const { portal, rest } = await installedPortal(cloud, app);
    await rest('placement.bind', { PLACEMENT: 'CALL_CARD', HANDLER: `${app.url}/placement/call-card`, TITLE: 'Card' });
    const agent = cloud.addUser(portal.memberId, { name: 'Ann' });
    const opened = await cloud.openPlacement(portal.memberId, { userId: agent.id, placement: 'CALL_CARD', options: { CALL_ID: 'externalCall.x.1', PHONE_NUMBER: '+15550001' } });
    expect(opened.status).toBe(200);
    const got = app.received.filter((r) => r.path.startsWith('/placement/call-card?')).at(-1);
    expect(got?.path).toContain(`DOMAIN=${encodeURIComponent(portal.domain)}`);
    expect(got?.body.get('PLACEMENT')).toBe('CALL_CARD');
    expect(JSON.parse(got?.body.get('PLACEMENT_OPTIONS') ?? '{}')).toEqual({ CALL_ID: 'externalCall.x.1', PHONE_NUMBER: '+15550001' });
    expect(got?.body.get('AUTH_ID')).toBe(opened.accessToken);
    const me = await callRest(portal.clientEndpoint, 'user.current', { auth: opened.accessToken });
    expect(resultOf(me).ID).toBe(String(agent.id));
    await expect(cloud.openPlacement(portal.memberId, { userId: agent.id, placement: 'LEFT_MENU' })).rejects.toThrow(/No handler bound/);
  });

  it('records notifications and timeline comments', async () => {
    const { portal, rest } = await installedPortal(cloud, app);
    const contact = cloud.seedCrm(portal.memberId, 'CONTACT', { NAME: 'N' });
    expect(typeof (await rest('im.notify.system.add', { USER_ID: 1, MESSAGE: 'No extension bound' })).body.result).toBe('number');
    expect(typeof (await rest('crm.timeline.comment.add', { fields: { ENTITY_TYPE: 'contact', ENTITY_ID: contact, COMMENT: 'hi' } })).body.result).toBe('number');
    expect((await rest('crm.timeline.comment.add', { FIELDS: { ENTITY_TYPE: 'contact', ENTITY_ID: contact, COMMENT: 'hi' } })).status).toBe(400);
    const seen = cloud.crmActivity(portal.memberId);
    expect(seen.notifications.map((n) => [n.userId, n.message, n.kind])).toEqual([[1, 'No extension bound', 'system']]);
    expect(seen.comments.map((c) => c.COMMENT)).toEqual(['hi']);
  });
});

describe('crm.item', () => {
  it('adds with fm, updates fm by n-keys and ids (typeId required), lists camelCase items', async () => {
    const { rest } = await installedPortal(cloud, app);
    const added = resultOf(await rest('crm.item.add', {
      entityTypeId: 3,
      fields: { name: 'Ivy', lastName: 'Item', fm: [{ typeId: 'PHONE', valueType: 'WORK', value: '+1 555 700 0001' }, { valueType: 'WORK', value: 'ignored' }] },
    })).item as { id: number; name: string; lastName: string; fm: { id: number; typeId: string; value: string }[] };
    expect([added.name, added.lastName, added.fm.map((f) => f.value)]).toEqual(['Ivy', 'Item', ['+1 555 700 0001']]);
    const phoneId = added.fm[0]?.id ?? 0;
    await rest('crm.item.update', {
      entityTypeId: 3,
      id: added.id,
      fields: { fm: { [phoneId]: { typeId: 'PHONE', value: '' }, n0: { typeId: 'EMAIL', valueType: 'WORK', value: 'ivy@example.test' }, n1: { value: 'no type' } } },
    });
    const got = resultOf(await rest('crm.item.get', { entityTypeId: 3, id: added.id })).item as { fm: { typeId: string; value: string }[] };
    expect(got.fm.map((f) => [f.typeId, f.value])).toEqual([['EMAIL', 'ivy@example.test']]);
    const legacy = resultOf(await rest('crm.contact.get', { id: added.id }));
    expect(legacy.LAST_NAME).toBe('Item');
    const list = resultOf(await rest('crm.item.list', { entityTypeId: 3, filter: { '=lastName': 'Item' } }));
    expect((list.items as { id: number }[]).map((i) => i.id)).toEqual([added.id]);
    expect((await rest('crm.item.get', { entityTypeId: 3, id: 424242 })).body.error).toBe('NOT_FOUND');
  });
});

describe('CRM change events', () => {
  it('sends ONCRMCONTACTADD/UPDATE to bound handlers for UI (control) and REST changes, only once installed', async () => {
    const { portal, rest } = await installedPortal(cloud, app);
    await rest('event.bind', { event: 'ONCRMCONTACTUPDATE', handler: `${app.url}/crm` });
    await rest('event.bind', { event: 'ONCRMCONTACTADD', handler: `${app.url}/crm` });
    const id = cloud.seedCrm(portal.memberId, 'CONTACT', { NAME: 'Evented' });
    cloud.updateCrm(portal.memberId, 'CONTACT', id, { NAME: 'Renamed' });
    await rest('crm.contact.update', { id, fields: { LAST_NAME: 'Rest' } });
    await cloud.settle();
    const sent = cloud.deliveries({ memberId: portal.memberId }).filter((d) => d.event.startsWith('ONCRMCONTACT'));
    expect(sent.map((d) => [d.event, d.form['data[FIELDS][ID]'], d.status])).toEqual([
      ['ONCRMCONTACTADD', String(id), 200],
      ['ONCRMCONTACTUPDATE', String(id), 200],
      ['ONCRMCONTACTUPDATE', String(id), 200],
    ]);
    expect(sent.every((d) => d.form['auth[application_token]'] === portal.applicationToken && d.form['event_handler_id'] !== undefined)).toBe(true);
  });
});
