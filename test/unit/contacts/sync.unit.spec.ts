import { describe, expect, it } from 'vitest';
import type { CrmPerson } from '../../../server/bitrix/crm.js';
import { contactFingerprint, mapNumbers, planPbxContact, SKIP_NO_NAME, SKIP_NO_PHONE } from '../../../server/contacts/pbx-contact.js';
import { createContactSync, FAIL_PBX_NOT_CONNECTED } from '../../../server/contacts/sync.js';
import type { PortalSettings } from '../../../server/store/records.js';
import { FakeCrm, FakePhonebookPbx, MemoryContactSync, clientsOf, settingsWith, silentLog } from './fakes.js';

const PORTAL = 'portal-1';

function person(patch: Partial<CrmPerson>): CrmPerson {
  return { entityType: 'LEAD', id: 1, firstName: 'Anna', lastName: 'Petrova', title: '', companyName: '', companyId: null, phones: [], emails: [], ...patch };
}

describe('mapNumbers', () => {
  it('puts each Bitrix24 phone kind in its PBX slot', () => {
    const { numbers } = mapNumbers([
      { kind: 'WORK', value: '+49 30 1234567' },
      { kind: 'MOBILE', value: '0171 2345678' },
      { kind: 'HOME', value: '030 7654321' },
      { kind: 'FAX', value: '030 1234568' },
      { kind: 'OTHER', value: '030 1234569' },
    ], 'DE');
    expect(numbers).toEqual([
      { type: 'business', number: '+49301234567' },
      { type: 'mobile', number: '+491712345678' },
      { type: 'home', number: '+49307654321' },
      { type: 'business_fax', number: '+49301234568' },
      { type: 'other', number: '+49301234569' },
    ]);
  });

  it('overflows a kind into its *2 slot, then into free slots, without stealing a later number\'s own slot', () => {
    const { numbers, dropped } = mapNumbers([
      { kind: 'WORK', value: '+79000000001' },
      { kind: 'WORK', value: '+79000000002' },
      { kind: 'WORK', value: '+79000000003' },
      { kind: 'OTHER', value: '+79000000004' },
    ], 'RU');
    expect(numbers).toEqual([
      { type: 'business', number: '+79000000001' },
      { type: 'business2', number: '+79000000002' },
      { type: 'other', number: '+79000000004' },
      { type: 'mobile2', number: '+79000000003' },
    ]);
    expect(dropped).toEqual([]);
  });

  it('writes one number once however it was typed, keeps voice numbers out of fax slots, and reports what does not fit', () => {
    const many = Array.from({ length: 10 }, (_, i) => ({ kind: 'WORK', value: `+7900000${String(i).padStart(4, '0')}` }));
    const { numbers, dropped } = mapNumbers([{ kind: 'WORK', value: '8 900 123-45-67' }, { kind: 'MOBILE', value: '+79001234567' }, ...many], 'RU');
    expect(numbers.filter((n) => n.number === '+79001234567')).toHaveLength(1);
    expect(numbers.length).toBe(7);
    expect(new Set(numbers.map((n) => n.type)).size).toBe(7);
    expect(numbers.some((n) => n.type.endsWith('fax'))).toBe(false);
    expect(dropped).toHaveLength(4);
  });
});

describe('planPbxContact', () => {
  it('skips a record without first and last name, or without a phone, with the reason', () => {
    expect(planPbxContact(person({ firstName: '', lastName: '', phones: [{ kind: 'WORK', value: '+79001234567' }] }), '', 'RU'))
      .toEqual({ kind: 'skip', reason: SKIP_NO_NAME });
    expect(planPbxContact(person({ phones: [] }), '', 'RU')).toEqual({ kind: 'skip', reason: SKIP_NO_PHONE });
  });

  it('uses a lone last name as the first name (the PBX requires one) and a company TITLE as name and company', () => {
    const plan = planPbxContact(person({ firstName: '', lastName: 'Petrova', phones: [{ kind: 'WORK', value: '+79001234567' }] }), '', 'RU');
    expect(plan).toMatchObject({ kind: 'write', contact: { firstName: 'Petrova', lastName: '' } });
    const company = planPbxContact(person({ entityType: 'COMPANY', firstName: '', lastName: '', title: 'ACME', companyName: 'ACME', phones: [{ kind: 'WORK', value: '+79001234567' }] }), 'ACME', 'RU');
    expect(company).toMatchObject({ kind: 'write', contact: { firstName: 'ACME', company: 'ACME' } });
  });

  it('fingerprints what is written: same contact same print, any change a new one', () => {
    const plan = planPbxContact(person({ phones: [{ kind: 'WORK', value: '+79001234567' }], emails: ['a@x.io'] }), 'X', 'RU');
    if (plan.kind !== 'write') throw new Error('expected a contact');
    const print = contactFingerprint('5', plan.contact);
    expect(contactFingerprint('5', structuredClone(plan.contact))).toBe(print);
    expect(contactFingerprint('6', plan.contact)).not.toBe(print);
    expect(contactFingerprint('5', { ...plan.contact, email: 'b@x.io' })).not.toBe(print);
    expect(contactFingerprint('5', { ...plan.contact, numbers: [{ type: 'business', number: '+79001234568' }] })).not.toBe(print);
  });
});

describe('contact sync', () => {
  function setup(patch: Partial<PortalSettings['contactSync']> = {}) {
    const crm = new FakeCrm();
    const pbx = new FakePhonebookPbx();
    const repository = new MemoryContactSync();
    const settings = settingsWith({ enabled: true, defaultCountry: 'RU', contactSync: { enabled: true, entityType: 'LEAD', phonebookId: 'pb1', ...patch } });
    let adapter: ReturnType<FakePhonebookPbx['adapter']> | undefined = pbx.adapter();
    const sync = createContactSync({
      clients: clientsOf(crm), repository, settingsOf: () => settings, adapterFor: () => adapter, log: silentLog,
    });
    return { crm, pbx, repository, sync, settings, unplug: () => { adapter = undefined; } };
  }

  it('creates the PBX contact of a lead with its name, numbers, e-mail and company, and stores the mapping', async () => {
    const { crm, pbx, repository, sync } = setup();
    const id = crm.add('LEAD', {
      TITLE: 'Deal', NAME: 'Anna', LAST_NAME: 'Petrova', COMPANY_TITLE: 'ACME',
      PHONE: [{ VALUE: '8 900 123-45-67', VALUE_TYPE: 'WORK' }, { VALUE: '+7 901 000 00 01', VALUE_TYPE: 'MOBILE' }],
      EMAIL: [{ VALUE: 'anna@acme.test', VALUE_TYPE: 'WORK' }],
    });
    const entry = await sync.syncNow(PORTAL, { entityType: 'LEAD', entityId: id });
    expect(entry).toMatchObject({ state: 'synced', phonebookId: 'pb1' });
    const stored = pbx.contacts.get(entry?.pbxContactId ?? '');
    expect(stored).toEqual({
      phonebookId: 'pb1',
      contact: {
        firstName: 'Anna', lastName: 'Petrova', company: 'ACME', email: 'anna@acme.test',
        numbers: [{ type: 'business', number: '+79001234567' }, { type: 'mobile', number: '+79010000001' }],
      },
    });
    expect(repository.get(PORTAL, 'LEAD', id)?.pbxContactId).toBe(entry?.pbxContactId);
  });

  it('does not write an unchanged record again, and updates the same PBX contact when it changed', async () => {
    const { crm, pbx, sync } = setup();
    const id = crm.add('LEAD', { NAME: 'Anna', PHONE: [{ VALUE: '+79001234567', VALUE_TYPE: 'WORK' }] });
    const first = await sync.syncNow(PORTAL, { entityType: 'LEAD', entityId: id });
    await sync.syncNow(PORTAL, { entityType: 'LEAD', entityId: id });
    expect(pbx.writes).toBe(1);
    const record = crm.records.LEAD.get(id);
    if (record) record.PHONE = [{ VALUE: '+79007654321', VALUE_TYPE: 'WORK' }];
    const second = await sync.syncNow(PORTAL, { entityType: 'LEAD', entityId: id });
    expect(pbx.writes).toBe(2);
    expect(second?.pbxContactId).toBe(first?.pbxContactId);
    expect(pbx.contacts.size).toBe(1);
    expect(pbx.contacts.get(first?.pbxContactId ?? '')?.contact.numbers).toEqual([{ type: 'business', number: '+79007654321' }]);
  });

  it('skips a nameless lead with the reason, then syncs it once it has a name', async () => {
    const { crm, pbx, repository, sync } = setup();
    const id = crm.add('LEAD', { TITLE: 'Call from the site', PHONE: [{ VALUE: '+79001234567', VALUE_TYPE: 'WORK' }] });
    await sync.syncNow(PORTAL, { entityType: 'LEAD', entityId: id });
    expect(repository.get(PORTAL, 'LEAD', id)).toMatchObject({ state: 'skipped', reason: SKIP_NO_NAME });
    expect(pbx.writes).toBe(0);
    const record = crm.records.LEAD.get(id);
    if (record) record.NAME = 'Ivan';
    await sync.syncNow(PORTAL, { entityType: 'LEAD', entityId: id });
    expect(repository.get(PORTAL, 'LEAD', id)).toMatchObject({ state: 'synced' });
  });

  it('reads a contact\'s company title from its company', async () => {
    const { crm, pbx, sync } = setup({ entityType: 'CONTACT' });
    const company = crm.add('COMPANY', { TITLE: 'Globex' });
    const id = crm.add('CONTACT', { NAME: 'Hank', COMPANY_ID: String(company), PHONE: [{ VALUE: '+79001234567', VALUE_TYPE: 'MOBILE' }] });
    const entry = await sync.syncNow(PORTAL, { entityType: 'CONTACT', entityId: id });
    expect(pbx.contacts.get(entry?.pbxContactId ?? '')?.contact.company).toBe('Globex');
  });

  it('ignores records of another kind and does nothing when sync is off', async () => {
    const { crm, pbx, sync, settings } = setup();
    const id = crm.add('CONTACT', { NAME: 'A', PHONE: [{ VALUE: '+79001234567', VALUE_TYPE: 'WORK' }] });
    expect(await sync.syncNow(PORTAL, { entityType: 'CONTACT', entityId: id })).toBeNull();
    settings.contactSync.enabled = false;
    const lead = crm.add('LEAD', { NAME: 'A', PHONE: [{ VALUE: '+79001234567', VALUE_TYPE: 'WORK' }] });
    expect(await sync.syncNow(PORTAL, { entityType: 'LEAD', entityId: lead })).toBeNull();
    expect(pbx.writes).toBe(0);
    expect(crm.calls).toHaveLength(0);
  });

  it('records a PBX failure or a missing PBX link as a failed entry, never throwing, and retries later', async () => {
    const { crm, pbx, repository, sync, unplug } = setup();
    const id = crm.add('LEAD', { NAME: 'Anna', PHONE: [{ VALUE: '+79001234567', VALUE_TYPE: 'WORK' }] });
    pbx.failNext = new Error('PBX_REQUEST_FAILED: the PBX refused the contact');
    sync.syncContactAfterCall(PORTAL, { entityType: 'LEAD', entityId: id });
    await sync.idle();
    expect(repository.get(PORTAL, 'LEAD', id)).toMatchObject({ state: 'failed', reason: 'PBX_REQUEST_FAILED: the PBX refused the contact' });
    await sync.syncNow(PORTAL, { entityType: 'LEAD', entityId: id });
    expect(repository.get(PORTAL, 'LEAD', id)).toMatchObject({ state: 'synced' });
    unplug();
    const other = crm.add('LEAD', { NAME: 'Bob', PHONE: [{ VALUE: '+79001234568', VALUE_TYPE: 'WORK' }] });
    await sync.syncNow(PORTAL, { entityType: 'LEAD', entityId: other });
    expect(repository.get(PORTAL, 'LEAD', other)).toMatchObject({ state: 'failed', reason: FAIL_PBX_NOT_CONNECTED });
  });

  it('runs one sync per record at a time: two calls ending together make one PBX contact', async () => {
    const { crm, pbx, sync } = setup();
    crm.latencyMs = 10;
    const id = crm.add('LEAD', { NAME: 'Anna', PHONE: [{ VALUE: '+79001234567', VALUE_TYPE: 'WORK' }] });
    await Promise.all([sync.syncNow(PORTAL, { entityType: 'LEAD', entityId: id }), sync.syncNow(PORTAL, { entityType: 'LEAD', entityId: id })]);
    expect(pbx.contacts.size).toBe(1);
    expect(pbx.writes).toBe(1);
  });

  it('starts a new PBX contact when the phonebook was changed', async () => {
    const { crm, pbx, sync, settings } = setup();
    const id = crm.add('LEAD', { NAME: 'Anna', PHONE: [{ VALUE: '+79001234567', VALUE_TYPE: 'WORK' }] });
    await sync.syncNow(PORTAL, { entityType: 'LEAD', entityId: id });
    settings.contactSync.phonebookId = 'pb2';
    const entry = await sync.syncNow(PORTAL, { entityType: 'LEAD', entityId: id });
    expect(pbx.contacts.size).toBe(2);
    expect(pbx.contacts.get(entry?.pbxContactId ?? '')?.phonebookId).toBe('pb2');
  });

  it('writes an unchanged record again when its entry was deleted on the PBX (a new id), and leaves a present one alone', async () => {
    const { crm, pbx, sync } = setup();
    const id = crm.add('LEAD', { NAME: 'Anna', PHONE: [{ VALUE: '+79001234567', VALUE_TYPE: 'WORK' }] });
    const first = await sync.syncNow(PORTAL, { entityType: 'LEAD', entityId: id });
    await sync.syncNow(PORTAL, { entityType: 'LEAD', entityId: id });
    expect(pbx.writes).toBe(1);
    pbx.contacts.delete(first?.pbxContactId ?? '');
    const again = await sync.syncNow(PORTAL, { entityType: 'LEAD', entityId: id });
    expect(pbx.writes).toBe(2);
    expect(again?.pbxContactId).not.toBe(first?.pbxContactId);
    expect(pbx.contacts.has(again?.pbxContactId ?? '')).toBe(true);
  });

  it('a CRM update event rewrites a synced record; a delete event removes its entry; records never synced are left alone', async () => {
    const { crm, pbx, repository, sync } = setup();
    const id = crm.add('LEAD', { NAME: 'Anna', PHONE: [{ VALUE: '+79001234567', VALUE_TYPE: 'WORK' }] });
    const never = crm.add('LEAD', { NAME: 'Bob', PHONE: [{ VALUE: '+79001234568', VALUE_TYPE: 'WORK' }] });
    const entry = await sync.syncNow(PORTAL, { entityType: 'LEAD', entityId: id });
    const record = crm.records.LEAD.get(id);
    if (record) record.NAME = 'Anya';
    await sync.crmChanged(PORTAL, { entityType: 'LEAD', entityId: id }, 'update');
    expect(pbx.contacts.get(entry?.pbxContactId ?? '')?.contact.firstName).toBe('Anya');
    await sync.crmChanged(PORTAL, { entityType: 'LEAD', entityId: never }, 'update');
    expect(repository.get(PORTAL, 'LEAD', never)).toBeUndefined();
    crm.records.LEAD.delete(id);
    await sync.crmChanged(PORTAL, { entityType: 'LEAD', entityId: id }, 'delete');
    expect(pbx.contacts.size).toBe(0);
    expect(repository.get(PORTAL, 'LEAD', id)).toMatchObject({ state: 'removed' });
    expect(repository.get(PORTAL, 'LEAD', id)?.pbxContactId).toBeUndefined();
  });

  it('CRM events change nothing while contact sync is paused', async () => {
    const { crm, pbx, sync, settings } = setup();
    const id = crm.add('LEAD', { NAME: 'Anna', PHONE: [{ VALUE: '+79001234567', VALUE_TYPE: 'WORK' }] });
    await sync.syncNow(PORTAL, { entityType: 'LEAD', entityId: id });
    settings.contactSync.enabled = false;
    crm.records.LEAD.delete(id);
    await sync.crmChanged(PORTAL, { entityType: 'LEAD', entityId: id }, 'delete');
    expect(pbx.contacts.size).toBe(1);
  });

  it('a synced record that lost its phones leaves the phonebook', async () => {
    const { crm, pbx, repository, sync } = setup();
    const id = crm.add('LEAD', { NAME: 'Anna', PHONE: [{ VALUE: '+79001234567', VALUE_TYPE: 'WORK' }] });
    await sync.syncNow(PORTAL, { entityType: 'LEAD', entityId: id });
    const record = crm.records.LEAD.get(id);
    if (record) record.PHONE = [];
    await sync.crmChanged(PORTAL, { entityType: 'LEAD', entityId: id }, 'update');
    expect(pbx.contacts.size).toBe(0);
    expect(repository.get(PORTAL, 'LEAD', id)).toMatchObject({ state: 'removed', reason: SKIP_NO_PHONE });
  });

  it('re-sync all goes over every synced record once and counts what it did', async () => {
    const { crm, pbx, sync } = setup();
    const a = crm.add('LEAD', { NAME: 'A', PHONE: [{ VALUE: '+79001234561', VALUE_TYPE: 'WORK' }] });
    const b = crm.add('LEAD', { NAME: 'B', PHONE: [{ VALUE: '+79001234562', VALUE_TYPE: 'WORK' }] });
    const c = crm.add('LEAD', { NAME: 'C', PHONE: [{ VALUE: '+79001234563', VALUE_TYPE: 'WORK' }] });
    const entries = await Promise.all([a, b, c].map((id) => sync.syncNow(PORTAL, { entityType: 'LEAD', entityId: id })));
    const recordB = crm.records.LEAD.get(b);
    if (recordB) recordB.NAME = 'Bee';
    pbx.contacts.delete(entries[2]?.pbxContactId ?? '');
    expect(sync.resyncProgress(PORTAL)).toBeNull();
    const started = sync.resyncAll(PORTAL);
    expect(started).toMatchObject({ running: true, total: 3 });
    expect(sync.resyncAll(PORTAL)).toMatchObject({ running: true, total: 3 });
    await sync.idle();
    expect(sync.resyncProgress(PORTAL)).toMatchObject({ running: false, total: 3, done: 3, unchanged: 1, written: 1, rewritten: 1, failed: 0 });
  });
});
