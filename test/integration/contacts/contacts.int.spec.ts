/**
 * Issue 5 acceptance against both emulators: binding, auto-create, contact sync, phonebook choice, disconnect.
 * The calls service is not part of this test: it asks `resolveCaller` / `syncContactAfterCall` exactly as done here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AutoBindResponse, BindingsResponse, ContactSyncRow, PhonebookRow, SettingsResponse, UserRow } from '../../../contract/api-shapes.js';
import { startContactsWorld, type ContactsWorld } from './setup.js';

let world: ContactsWorld;

beforeAll(async () => {
  world = await startContactsWorld();
  await world.connectPbx();
}, 60_000);

afterAll(async () => {
  await world?.close();
}, 30_000);

async function setSettings(body: unknown): Promise<SettingsResponse> {
  const answer = await world.api('PUT', '/settings', body);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return answer.body as SettingsResponse;
}

async function createPhonebook(name: string): Promise<PhonebookRow> {
  const answer = await world.api('POST', '/phonebooks', { name });
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  return answer.body as PhonebookRow;
}

describe('settings', () => {
  it('never answers a secret, only that it is set, and gives the webhook URL to paste into the PBX', async () => {
    const answer = await world.api('GET', '/settings');
    expect(answer.status).toBe(200);
    const text = JSON.stringify(answer.body);
    expect(text).not.toContain(world.pbx.clientSecret);
    const settings = answer.body as SettingsResponse;
    expect(settings.pbx).toMatchObject({ clientId: world.pbx.clientId, clientSecretSet: true, events: 'websocket' });
    expect(settings.pbx?.webhookUrl).toMatch(/^https:\/\/connector\.example\.test\/pbx\/webhook\/[A-Za-z0-9_-]{16,}$/);
    expect(settings.pbx?.webhookUrl).not.toContain(world.memberId);
  });

  it('refuses changes from a non-admin and invalid bodies with a clear 4xx', async () => {
    expect((await world.api('PUT', '/settings', { defaultCountry: 'DE' }, 'user')).status).toBe(403);
    const bad = await world.api('PUT', '/settings', { defaultCountry: 'XX', surprise: 1 });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/defaultCountry|surprise/);
    const noSecret = await world.api('PUT', '/settings', { pbx: { baseUrl: 'http://198.51.100.7:8088', clientId: 'x', events: 'websocket' } });
    expect(noSecret.status).toBe(400);
    expect((noSecret.body as { message: string }).message).toMatch(/Client Secret/);
    const metadata = await world.api('PUT', '/settings', { pbx: { baseUrl: 'http://169.254.169.254', clientId: 'x', clientSecret: 'y', events: 'websocket' } });
    expect(metadata.status).toBe(400);
    expect((metadata.body as { error: string }).error).toBe('PBX_ADDRESS_REFUSED');
    expect((await world.api('GET', '/settings')).body).toMatchObject({ pbx: { baseUrl: world.pbx.url }, defaultCountry: 'ZA' });
  });
});

describe('users and extensions', () => {
  it('auto-binds exactly the e-mail and UF_PHONE_INNER matches, keeps manual bindings, reports conflicts', async () => {
    const anna = await world.addUser({ name: 'Anna', email: 'Anna.Smith@Example.test ' });
    const boris = await world.addUser({ name: 'Boris', email: 'boris@elsewhere.test', innerPhone: '1102' });
    const carl = await world.addUser({ name: 'Carl', email: 'carl@example.test' });
    const dora = await world.addUser({ name: 'Dora', email: 'dora@example.test', innerPhone: '1104' });
    const nobody = await world.addUser({ name: 'Nobody', email: 'nobody@example.test' });
    await world.pbx.addExtension({ number: '1101', name: 'Anna', email: 'anna.smith@example.test' });
    await world.pbx.addExtension({ number: '1102', name: 'Reception' });
    await world.pbx.addExtension({ number: '1103', name: 'Carl', email: 'carl@example.test' });
    await world.pbx.addExtension({ number: '1104', name: 'Dora' });
    await world.pbx.addExtension({ number: '1105', name: 'Spare' });

    // Carl sits at 1105 by the admin's choice; Dora's inner number points at 1104, which the admin gave to Nobody.
    const manual = await world.api('PUT', '/bindings', { bindings: [{ userId: carl, extension: '1105' }, { userId: nobody, extension: '1104' }] });
    expect(manual.status, JSON.stringify(manual.body)).toBe(200);
    expect((manual.body as BindingsResponse).conflicts).toEqual([]);

    const preview = await world.api('POST', '/bindings/auto', { dryRun: true });
    expect(preview.status).toBe(200);
    const plan = preview.body as AutoBindResponse;
    expect(plan.applied).toBe(false);
    expect(plan.pairs).toEqual(expect.arrayContaining([
      { userId: anna, extension: '1101', reason: 'email' },
      { userId: boris, extension: '1102', reason: 'inner' },
    ]));
    expect(plan.pairs).toHaveLength(2);
    expect(plan.conflicts).toEqual(expect.arrayContaining([
      expect.objectContaining({ userId: carl, extension: '1103' }),
      expect.objectContaining({ userId: dora, extension: '1104' }),
    ]));
    expect(world.store.bindings.list(world.memberId)).toHaveLength(2);

    const applied = (await world.api('POST', '/bindings/auto', { dryRun: false })).body as AutoBindResponse;
    expect(applied.applied).toBe(true);
    const users = (await world.api('GET', '/users')).body as UserRow[];
    const row = (id: number) => users.find((u) => u.id === id);
    expect(row(anna)).toMatchObject({ extension: '1101', bindingSource: 'email' });
    expect(row(boris)).toMatchObject({ extension: '1102', bindingSource: 'inner', innerPhone: '1102' });
    expect(row(carl)).toMatchObject({ extension: '1105', bindingSource: 'manual' });
    expect(row(nobody)).toMatchObject({ extension: '1104', bindingSource: 'manual' });
    expect(row(dora)).toMatchObject({ extension: null });

    const taken = await world.api('PUT', '/bindings', { bindings: [{ userId: dora, extension: '1101' }] });
    expect((taken.body as BindingsResponse).conflicts).toEqual([{ userId: dora, extension: '1101', reason: "extension 1101 would also ring Anna: give one of them another extension" }]);
    expect(world.store.bindings.userForExtension(world.memberId, '1101')).toBe(anna);
  });

  it('lists PBX extensions with their bound user', async () => {
    const answer = await world.api('GET', '/extensions');
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual(expect.arrayContaining([expect.objectContaining({ number: '1101', name: 'Anna', email: 'anna.smith@example.test' })]));
  });
});

describe('auto-create', () => {
  it('creates one contact "Automatic New Contact -<number>" with that phone for an unknown inbound number, even for two calls at once', async () => {
    await setSettings({ autoCreate: { enabled: true, inbound: true, outbound: false, entityType: 'CONTACT' } });
    const number = '+27813539441';
    const [first, second] = await Promise.all([
      world.contacts.resolveCaller(world.memberId, number, 'inbound', 1),
      world.contacts.resolveCaller(world.memberId, number, 'inbound', 1),
    ]);
    expect(first?.entityType).toBe('CONTACT');
    expect(second).toEqual(first);
    const made = (await world.b24.listCrm(world.memberId, 'CONTACT')).filter((c) => String(c.NAME).includes(number));
    expect(made).toHaveLength(1);
    expect(made[0]).toMatchObject({ NAME: `Automatic New Contact -${number}`, ASSIGNED_BY_ID: expect.anything() });
    expect(JSON.stringify(made[0]?.PHONE)).toContain(number);
    // The next call from the number, written the way the trunk presents it, binds to the same record.
    world.contacts.forgetPortal(world.memberId);
    expect(await world.contacts.resolveCaller(world.memberId, number, 'inbound', 1)).toEqual(first);
  });

  it('creates nothing on an inbound call when auto-create is for outbound only', async () => {
    await setSettings({ autoCreate: { enabled: true, inbound: false, outbound: true, entityType: 'LEAD' } });
    const number = '+27821112233';
    expect(await world.contacts.resolveCaller(world.memberId, number, 'inbound', 1)).toBeNull();
    const all = [...await world.b24.listCrm(world.memberId, 'LEAD'), ...await world.b24.listCrm(world.memberId, 'CONTACT')];
    expect(JSON.stringify(all)).not.toContain(number);
  });
});

describe('contact sync and phonebooks', () => {
  let phonebookId = '';

  it('refuses a phonebook that has contacts, and accepts a new empty one', async () => {
    const used = await createPhonebook('Shared book');
    const adapter = world.supervisor.adapter(world.memberId);
    if (!adapter) throw new Error('no PBX link');
    await adapter.upsertContact(used.id, { firstName: 'Someone', lastName: 'Else', company: '', email: '', numbers: [{ type: 'business', number: '+27115550000' }] });
    const refused = await world.api('PUT', '/settings', { contactSync: { enabled: true, entityType: 'LEAD', phonebookId: used.id } });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error: 'PHONEBOOK_NOT_EMPTY' });
    const books = (await world.api('GET', '/phonebooks')).body as PhonebookRow[];
    expect(books.find((b) => b.id === used.id)).toMatchObject({ selectable: false, selected: false, contactCount: 1 });

    const fresh = await createPhonebook('Bitrix24 CRM');
    expect(fresh).toMatchObject({ contactCount: 0, selectable: true });
    const saved = await setSettings({ contactSync: { enabled: true, entityType: 'LEAD', phonebookId: fresh.id } });
    expect(saved.contactSync).toEqual({ enabled: true, entityType: 'LEAD', phonebookId: fresh.id });
    phonebookId = fresh.id;
  });

  it('puts a calling lead into the phonebook with its name and numbers, and updates it after its phone changed', async () => {
    const leadId = await world.b24.seedCrm(world.memberId, 'LEAD', {
      TITLE: 'Website enquiry', NAME: 'Lerato', LAST_NAME: 'Mokoena', COMPANY_TITLE: 'Acme SA',
      PHONE: [{ VALUE: '081 353 9442', VALUE_TYPE: 'WORK' }, { VALUE: '+27 82 000 1111', VALUE_TYPE: 'MOBILE' }],
      EMAIL: [{ VALUE: 'lerato@acme.test', VALUE_TYPE: 'WORK' }],
    });
    const ref = await world.contacts.resolveCaller(world.memberId, '+27813539442', 'inbound', 1);
    expect(ref).toEqual({ entityType: 'LEAD', entityId: leadId });
    world.contacts.syncContactAfterCall(world.memberId, { entityType: 'LEAD', entityId: leadId });
    await world.contacts.sync.idle();

    const inBook = async () => {
      const book = (await world.pbx.phonebooks()).find((b) => String(b.id) === phonebookId);
      const all = await world.pbx.companyContacts();
      return all.filter((c) => book?.contactIds.includes(Number(c.id)));
    };
    let contacts = await inBook();
    expect(contacts).toHaveLength(1);
    const text = JSON.stringify(contacts[0]);
    expect(text).toContain('Lerato');
    expect(text).toContain('Mokoena');
    expect(text).toContain('Acme SA');
    expect(text).toContain('+27813539442');
    expect(text).toContain('+27820001111');

    await world.b24.updateCrm(world.memberId, 'LEAD', leadId, { PHONE: [{ VALUE: '+27 83 999 0000', VALUE_TYPE: 'WORK' }] });
    world.contacts.syncContactAfterCall(world.memberId, { entityType: 'LEAD', entityId: leadId });
    await world.contacts.sync.idle();
    contacts = await inBook();
    expect(contacts).toHaveLength(1);
    expect(JSON.stringify(contacts[0])).toContain('+27839990000');
    const rows = (await world.api('GET', '/contact-sync')).body as ContactSyncRow[];
    expect(rows.find((r) => r.entityId === leadId)).toMatchObject({ state: 'synced', reason: null });
  });

  it('skips a lead without a name, with the reason visible in the API', async () => {
    const leadId = await world.b24.seedCrm(world.memberId, 'LEAD', { TITLE: 'Missed call', PHONE: [{ VALUE: '+27 84 123 4567', VALUE_TYPE: 'WORK' }] });
    world.contacts.syncContactAfterCall(world.memberId, { entityType: 'LEAD', entityId: leadId });
    await world.contacts.sync.idle();
    const rows = (await world.api('GET', '/contact-sync')).body as ContactSyncRow[];
    expect(rows.find((r) => r.entityId === leadId)).toMatchObject({ entityType: 'LEAD', state: 'skipped', reason: 'no first or last name', pbxContactId: null });
  });

  it('disconnect clears settings, bindings and the mapping but leaves the phonebook and its contacts on the PBX', async () => {
    const before = await world.pbx.phonebooks();
    const contactsBefore = await world.pbx.companyContacts();
    const answer = await world.api('POST', '/disconnect');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ enabled: false, pbx: null, contactSync: { enabled: false, phonebookId: null } });
    expect(world.store.bindings.list(world.memberId)).toEqual([]);
    expect(world.store.contactSync.list(world.memberId)).toEqual([]);
    expect(world.supervisor.adapter(world.memberId)).toBeUndefined();
    expect(await world.pbx.phonebooks()).toEqual(before);
    expect(await world.pbx.companyContacts()).toEqual(contactsBefore);
    expect(before.find((b) => String(b.id) === phonebookId)?.contactIds.length).toBe(1);
  });
});
