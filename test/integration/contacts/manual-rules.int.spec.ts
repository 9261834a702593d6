/**
 * The vendor's manual (shared/reference/yeastar-bitrix24-manual-zh.txt), rule by rule, through the whole product
 * (startServer as the composition root wires it) against both emulators and a real install. One test per rule,
 * named after it (issue 11 acceptance). What a customer cares about is stated in each test.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { AutoBindResponse, UserRow } from '../../../contract/api-shapes.js';
import { eventually } from '../foundation/server-under-test.js';
import type { Bitrix24Emulator } from '../../emulators/bitrix24/harness.js';
import { installedServerForThisFile } from '../support/installed-server.js';

const product = installedServerForThisFile();

async function settings(body: unknown): Promise<void> {
  const saved = await product.api('PUT', '/settings', body);
  expect(saved.status, JSON.stringify(saved.body)).toBe(200);
}

beforeAll(async () => {
  await settings({
    enabled: true,
    pbx: { baseUrl: product.pbx.url, clientId: product.pbx.clientId, clientSecret: product.pbx.clientSecret, events: 'websocket' },
    defaultCountry: 'CN',
  });
  await eventually(() => product.server.services.parts.pbxStatus(product.memberId).state === 'connected', 15_000);
}, 60_000);


describe('the manual\'s rules', () => {
  it('auto-bind: an e-mail match binds even when UF_PHONE_INNER names another extension', async () => {
    // The customer: "自动绑定" binds a Bitrix24 account and an extension with the same e-mail. A stale inner number in
    // the employee's profile must not stop that; an e-mail on two extensions is shown to the admin and left alone.
    const li = (await product.b24.addUser(product.memberId, { name: 'Li', lastName: 'Wei', email: 'li.wei@example.cn', innerPhone: '2102' })).id;
    const wang = (await product.b24.addUser(product.memberId, { name: 'Wang', lastName: 'Fang', email: 'wang@example.cn' })).id;
    const zhao = (await product.b24.addUser(product.memberId, { name: 'Zhao', lastName: 'Lei', email: 'zhao@example.cn', innerPhone: '2105' })).id;
    await product.pbx.addExtension({ number: '2101', name: 'Li Wei', email: 'Li.Wei@example.cn' });
    await product.pbx.addExtension({ number: '2102', name: 'Front desk' });
    await product.pbx.addExtension({ number: '2103', name: 'Wang desk', email: 'wang@example.cn' });
    await product.pbx.addExtension({ number: '2104', name: 'Wang mobile', email: 'WANG@example.cn' });
    await product.pbx.addExtension({ number: '2105', name: 'Zhao' });

    const applied = await product.api('POST', '/bindings/auto', { dryRun: false });
    expect(applied.status, JSON.stringify(applied.body)).toBe(200);
    const plan = applied.body as AutoBindResponse;
    expect(plan.pairs).toEqual(expect.arrayContaining([
      { userId: li, extension: '2101', reason: 'email' },
      { userId: zhao, extension: '2105', reason: 'inner' },
    ]));
    expect(plan.pairs.some((p) => p.userId === wang)).toBe(false);
    expect(plan.conflicts.filter((c) => c.userId === wang).map((c) => c.extension).sort()).toEqual(['2103', '2104']);
    expect(plan.conflicts.find((c) => c.userId === wang)?.reason).toMatch(/on 2 extensions/);
    expect(plan.conflicts.some((c) => c.userId === li)).toBe(false);

    const users = (await product.api('GET', '/users')).body as UserRow[];
    expect(users.find((u) => u.id === li)).toMatchObject({ extension: '2101', bindingSource: 'email' });
    expect(users.find((u) => u.id === wang)).toMatchObject({ extension: null });
    expect(product.server.services.store.bindings.userForExtension(product.memberId, '2102')).toBeUndefined();
  });

  it('auto-create: the record is named after the number as the PBX presented it, its phone is international, and it is synced', async () => {
    // The customer (manual, "自动创建"): a Chinese mobile rings in as 18850152394; the new contact reads
    // "Automatic New Contact -18850152394" like the manual's screenshot, yet its phone is +8618850152394 so the next
    // call (in any format) lands on it; with contact sync on it appears in the PBX phonebook.
    const book = await product.api('POST', '/phonebooks', { name: 'CRM_Synchronization' });
    expect(book.status, JSON.stringify(book.body)).toBe(201);
    const phonebookId = (book.body as { id: string }).id;
    await settings({
      autoCreate: { enabled: true, inbound: true, outbound: false, entityType: 'CONTACT' },
      contactSync: { enabled: true, entityType: 'CONTACT', phonebookId },
    });
    const before = (await product.b24.calls(product.memberId)).length;
    await product.pbx.scenario('inbound-answered', { from: '18850152394', to: '2101', wait: true });
    await eventually(async () => (await product.b24.calls(product.memberId)).length === before + 1, 15_000);
    const made = (await product.b24.listCrm(product.memberId, 'CONTACT')).filter((c) => String(c.NAME).includes('18850152394'));
    expect(made).toHaveLength(1);
    expect(made[0]?.NAME).toBe('Automatic New Contact -18850152394');
    const phones = made[0]?.PHONE as { VALUE: string }[];
    expect(phones.map((p) => p.VALUE)).toEqual(['+8618850152394']);
    const contactId = Number(made[0]?.ID);
    expect((await product.b24.calls(product.memberId)).at(-1)).toMatchObject({ crmEntityType: 'CONTACT', crmEntityId: contactId });

    await eventually(async () => {
      const entry = product.server.services.store.contactSync.get(product.memberId, 'CONTACT', contactId);
      return entry?.state === 'synced';
    }, 15_000);
    const inBook = (await product.pbx.companyContacts()).filter((c) => JSON.stringify(c).includes('8618850152394'));
    expect(inBook).toHaveLength(1);
    expect(JSON.stringify(inBook[0])).toContain('Automatic New Contact -18850152394');

    await product.pbx.scenario('inbound-answered', { from: '+86 188 5015 2394', to: '2101', wait: true });
    await eventually(async () => (await product.b24.calls(product.memberId)).length === before + 2, 15_000);
    expect((await product.b24.calls(product.memberId)).at(-1)).toMatchObject({ crmEntityType: 'CONTACT', crmEntityId: contactId });
    expect((await product.b24.listCrm(product.memberId, 'CONTACT')).filter((c) => String(c.NAME).startsWith('Automatic New Contact'))).toHaveLength(1);
    await settings({ autoCreate: { enabled: false }, contactSync: { enabled: false } });
  });

  it('voicemail: a missed call that left a voicemail gets the message attached as the call\'s recording', async () => {
    // The customer: a caller nobody answered left a message; the agent opens the missed call in Bitrix24 and plays it.
    const { callId } = await product.pbx.scenario('inbound-voicemail', { from: '13800138000', to: '2101', talkSeconds: 9, record: true, wait: true });
    let call: Awaited<ReturnType<Bitrix24Emulator['calls']>>[number] | undefined;
    await eventually(async () => {
      call = (await product.b24.calls(product.memberId)).find((c) => (c.externalCallId ?? '').includes(callId));
      return Boolean(call?.finished && call.records.length > 0);
    }, 15_000);
    if (!call?.finished) throw new Error('the voicemail call was not logged');
    const params = call.finished.params as Record<string, unknown>;
    expect(String(params.STATUS_CODE)).toBe('304');
    expect(String(params.DURATION)).toBe('0');
    expect(call.records).toHaveLength(1);
    expect(call.records[0]).toMatchObject({ kind: 'wav', valid: true });
    const file = await product.b24.recordFile(product.memberId, call.records[0]?.fileId ?? 0);
    expect(file?.bytes.toString('ascii', 0, 4)).toBe('RIFF');
  });

  it('contact sync: in lead mode, a call from a lead whose number a contact also has writes the lead into the phonebook', async () => {
    // The customer (manual, "联系人同步"): sync is set to leads. Bitrix24 binds the call to the contact that shares the
    // number, yet the phonebook must get the lead — the record of the chosen type — and not the contact.
    const phonebookId = product.server.services.store.settings.get(product.memberId).contactSync.phonebookId;
    await settings({ contactSync: { enabled: true, entityType: 'LEAD', phonebookId } });
    const contactId = await product.b24.seedCrm(product.memberId, 'CONTACT', { NAME: 'Chen', LAST_NAME: 'Contact', PHONE: [{ VALUE: '+8613900139000', VALUE_TYPE: 'WORK' }] });
    const leadId = await product.b24.seedCrm(product.memberId, 'LEAD', { TITLE: 'Inquiry', NAME: 'Chen', LAST_NAME: 'Lead', PHONE: [{ VALUE: '+8613900139000', VALUE_TYPE: 'MOBILE' }] });
    const before = (await product.b24.calls(product.memberId)).length;
    await product.pbx.scenario('inbound-answered', { from: '13900139000', to: '2101', wait: true });
    await eventually(async () => (await product.b24.calls(product.memberId)).length === before + 1, 15_000);
    expect((await product.b24.calls(product.memberId)).at(-1)).toMatchObject({ crmEntityType: 'CONTACT', crmEntityId: contactId });

    await eventually(() => product.server.services.store.contactSync.get(product.memberId, 'LEAD', leadId)?.state === 'synced', 15_000);
    const entry = product.server.services.store.contactSync.get(product.memberId, 'LEAD', leadId);
    const written = (await product.pbx.companyContacts()).find((c) => String(c.id) === entry?.pbxContactId);
    expect(written).toMatchObject({ first_name: 'Chen', last_name: 'Lead' });
    expect(product.server.services.store.contactSync.get(product.memberId, 'CONTACT', contactId)).toBeUndefined();
    expect((await product.pbx.companyContacts()).some((c) => c.last_name === 'Contact')).toBe(false);
  });

  it('contact sync: a synced record stays true — CRM update/delete events, an entry deleted on the PBX, re-sync all with progress and counts', async () => {
    // The customer: the phonebook shows what the CRM says. A renamed lead is renamed on the PBX, a deleted lead leaves
    // the phonebook, an entry someone deleted on the PBX comes back on the next call, and "re-sync all" repairs every
    // entry at once, showing how many were checked, rewritten and so on.
    const store = product.server.services.store;
    const leadId = await product.b24.seedCrm(product.memberId, 'LEAD', { TITLE: 'Repeat buyer', NAME: 'Liu', LAST_NAME: 'Yang', PHONE: [{ VALUE: '+8613700137000', VALUE_TYPE: 'MOBILE' }] });
    await product.pbx.scenario('inbound-answered', { from: '13700137000', to: '2101', wait: true });
    await eventually(() => store.contactSync.get(product.memberId, 'LEAD', leadId)?.state === 'synced', 15_000);
    const firstId = store.contactSync.get(product.memberId, 'LEAD', leadId)?.pbxContactId ?? '';
    const onPbx = async (id: string) => (await product.pbx.companyContacts()).find((c) => String(c.id) === id);

    // A CRM change (ONCRMLEADUPDATE, verified by its application_token) updates the entry in place.
    await product.b24.updateCrm(product.memberId, 'LEAD', leadId, { LAST_NAME: 'Yangfan' });
    await eventually(async () => (await onPbx(firstId))?.last_name === 'Yangfan', 15_000);

    // Deleted on the PBX → written again on the record's next call.
    expect(await product.pbx.removeCompanyContact(Number(firstId))).toBe(true);
    await product.pbx.scenario('inbound-answered', { from: '+86 137 0013 7000', to: '2101', wait: true });
    await eventually(async () => {
      const id = store.contactSync.get(product.memberId, 'LEAD', leadId)?.pbxContactId;
      return id !== undefined && id !== firstId && (await onPbx(id)) !== undefined;
    }, 15_000);
    const secondId = store.contactSync.get(product.memberId, 'LEAD', leadId)?.pbxContactId ?? '';
    expect((await onPbx(secondId))?.last_name).toBe('Yangfan');

    // Deleted on the PBX again → "re-sync all" writes it back; the admin sees progress and counts.
    expect(await product.pbx.removeCompanyContact(Number(secondId))).toBe(true);
    const started = await product.api('POST', '/contact-sync/resync');
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const leadsSynced = store.contactSync.list(product.memberId).filter((e) => e.entityType === 'LEAD' && e.pbxContactId !== undefined).length;
    expect(started.body).toMatchObject({ total: leadsSynced });
    let progress: Record<string, unknown> = {};
    await eventually(async () => {
      progress = (await product.api('GET', '/contact-sync/resync')).body as Record<string, unknown>;
      return progress.running === false;
    }, 15_000);
    expect(progress).toMatchObject({ total: leadsSynced, done: leadsSynced, rewritten: 1, unchanged: leadsSynced - 1, failed: 0 });
    const thirdId = store.contactSync.get(product.memberId, 'LEAD', leadId)?.pbxContactId ?? '';
    expect(await onPbx(thirdId)).toBeDefined();

    // Deleted in the CRM (ONCRMLEADDELETE) → its entry leaves the phonebook.
    await product.b24.deleteCrm(product.memberId, 'LEAD', leadId);
    await eventually(() => store.contactSync.get(product.memberId, 'LEAD', leadId)?.state === 'removed', 15_000);
    expect(await onPbx(thirdId)).toBeUndefined();
  });

  it('contact sync: an outbound call writes nothing, unless it auto-created the record', async () => {
    // The manual: the phonebook gets records whose calls a bound extension RECEIVES, plus records auto-created for
    // any call. Dialling out to a known lead does not put it into the phonebook; dialling an unknown number with
    // auto-create on for outbound calls does.
    const store = product.server.services.store;
    const leadId = await product.b24.seedCrm(product.memberId, 'LEAD', { TITLE: 'Cold list', NAME: 'Sun', LAST_NAME: 'Li', PHONE: [{ VALUE: '+8613500135000', VALUE_TYPE: 'WORK' }] });
    const before = (await product.b24.calls(product.memberId)).length;
    await product.pbx.scenario('outbound-answered', { from: '2101', to: '13500135000', wait: true });
    await eventually(async () => (await product.b24.calls(product.memberId)).filter((c) => c.finished).length >= before + 1, 15_000);
    expect((await product.b24.calls(product.memberId)).at(-1)).toMatchObject({ crmEntityType: 'LEAD', crmEntityId: leadId });

    await settings({ autoCreate: { enabled: true, inbound: false, outbound: true, entityType: 'LEAD' } });
    await product.pbx.scenario('outbound-answered', { from: '2101', to: '13300133000', wait: true });
    let created: Record<string, unknown> | undefined;
    await eventually(async () => {
      created = (await product.b24.listCrm(product.memberId, 'LEAD')).find((l) => l.TITLE === 'Automatic New Contact -13300133000');
      return created !== undefined;
    }, 15_000);
    const createdId = Number(created?.ID);
    await eventually(() => store.contactSync.get(product.memberId, 'LEAD', createdId)?.state === 'synced', 15_000);
    // By now the first call's after-call work has long run: the lead it dialled is still not in the phonebook.
    expect(store.contactSync.get(product.memberId, 'LEAD', leadId)).toBeUndefined();
    await settings({ autoCreate: { enabled: false } });
  });

  it('contact sync: a forged CRM delete event removes nothing', async () => {
    // The attack: someone who knows the public events URL posts ONCRMLEADDELETE for a synced lead with a wrong
    // application_token. The customer cares that the phonebook entry stays.
    const store = product.server.services.store;
    const synced = store.contactSync.list(product.memberId).find((e) => e.entityType === 'LEAD' && e.state === 'synced');
    if (!synced?.pbxContactId) throw new Error('no synced lead to attack');
    const deliveries = await product.b24.sendEvent(product.memberId, 'ONCRMLEADDELETE', { FIELDS: { ID: String(synced.entityId) } }, { forgeToken: true });
    expect(deliveries.every((d) => d.status === 401)).toBe(true);
    expect(store.contactSync.get(product.memberId, 'LEAD', synced.entityId)?.state).toBe('synced');
    expect((await product.pbx.companyContacts()).some((c) => String(c.id) === synced.pbxContactId)).toBe(true);
  });
});

describe('per-user call card mode', () => {
  const callOf = async (pbxCallId: string) => (await product.b24.calls(product.memberId)).find((c) => (c.externalCallId ?? '').includes(pbxCallId));

  it('card mode: "answer" registers with SHOW 0 and shows the card when the employee answers; "never" never shows it; set by an admin', async () => {
    // The customer: Bitrix24 users pick in their own telephony whether the card pops on ring, on answer or never; an
    // admin sets the same here per employee. A missed call of an "answer" employee pops nothing.
    const users = (await product.api('GET', '/users')).body as UserRow[];
    const li = users.find((u) => u.extension === '2101');
    const zhao = users.find((u) => u.extension === '2105');
    if (!li || !zhao) throw new Error('the auto-bind test binds 2101 and 2105 first');
    expect(li.cardMode).toBe('ring');
    const saved = await product.api('PUT', '/card-modes', { modes: [{ userId: li.id, mode: 'answer' }, { userId: zhao.id, mode: 'never' }] });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    const bad = await product.api('PUT', '/card-modes', { modes: [{ userId: li.id, mode: 'sometimes' }] });
    expect(bad.status).toBe(400);
    const after = (await product.api('GET', '/users')).body as UserRow[];
    expect(after.find((u) => u.id === li.id)?.cardMode).toBe('answer');
    expect(after.find((u) => u.id === zhao.id)?.cardMode).toBe('never');

    const answered = await product.pbx.scenario('inbound-answered', { from: '13600136000', to: '2101', wait: true });
    await eventually(async () => Boolean((await callOf(answered.callId))?.finished), 15_000);
    const a = await callOf(answered.callId);
    expect(String(a?.registerParams.SHOW)).toBe('0');
    expect(a?.showHistory.filter((h) => h.action === 'show').map((h) => h.userIds)).toEqual([[li.id]]);

    const missed = await product.pbx.scenario('inbound-missed', { from: '13600136001', to: '2101', wait: true });
    await eventually(async () => Boolean((await callOf(missed.callId))?.finished), 15_000);
    const m = await callOf(missed.callId);
    expect(String(m?.registerParams.SHOW)).toBe('0');
    expect(m?.showHistory.some((h) => h.action === 'show')).toBe(false);

    const never = await product.pbx.scenario('inbound-answered', { from: '13600136002', to: '2105', wait: true });
    await eventually(async () => Boolean((await callOf(never.callId))?.finished), 15_000);
    const n = await callOf(never.callId);
    expect(n).toMatchObject({ userId: zhao.id });
    expect(String(n?.registerParams.SHOW)).toBe('0');
    expect(n?.showHistory.some((h) => h.action === 'show')).toBe(false);
    expect(n?.finished?.params).toMatchObject({ USER_ID: expect.anything() });
  });
});
