import { describe, expect, it, vi } from 'vitest';
import { createAutoCreator } from '../../../server/contacts/autocreate.js';
import { createCrmContacts } from '../../../server/contacts/index.js';
import { createCrmLookup, preferredRecord } from '../../../server/contacts/lookup.js';
import type { CrmRef, PortalSettings } from '../../../server/store/records.js';
import { FakeCrm, clientsOf, settingsWith, silentLog, storeWith } from './fakes.js';

const PORTAL = 'portal-1';
const NUMBER = '+79001234567';

function autoOn(patch: Partial<PortalSettings['autoCreate']> = {}): PortalSettings {
  return settingsWith({
    enabled: true,
    defaultCountry: 'RU',
    autoCreate: { enabled: true, inbound: true, outbound: false, entityType: 'CONTACT', namePrefix: 'Automatic New Contact -', ...patch },
  });
}

describe('preferredRecord', () => {
  it('prefers a contact, then a company, then a lead, and the oldest of a type', () => {
    expect(preferredRecord({ LEAD: [3], CONTACT: [9, 7], COMPANY: [1] })).toEqual({ entityType: 'CONTACT', entityId: 7 });
    expect(preferredRecord({ LEAD: [3], COMPANY: [5, 2] })).toEqual({ entityType: 'COMPANY', entityId: 2 });
    expect(preferredRecord({ LEAD: [4] })).toEqual({ entityType: 'LEAD', entityId: 4 });
    expect(preferredRecord({})).toBeNull();
  });
});

describe('CRM lookup', () => {
  it('finds a number stored in the national format with one findbycomm request for all types', async () => {
    const crm = new FakeCrm();
    const id = crm.add('LEAD', { TITLE: 'x', PHONE: [{ VALUE: '8 (900) 123-45-67', VALUE_TYPE: 'WORK' }] });
    const lookup = createCrmLookup({ clients: clientsOf(crm), log: silentLog });
    expect(await lookup.find(PORTAL, NUMBER, 'RU')).toEqual({ entityType: 'LEAD', entityId: id });
    expect(crm.count('crm.duplicate.findbycomm')).toBe(1);
    const params = crm.calls[0]?.params ?? {};
    expect(params.type).toBe('PHONE');
    expect(params).not.toHaveProperty('entity_type');
    expect((params.values as string[]).length).toBeLessThanOrEqual(20);
  });

  it('serves answers (also "unknown") from the cache until they expire', async () => {
    const crm = new FakeCrm();
    let clock = 1_000;
    const lookup = createCrmLookup({ clients: clientsOf(crm), log: silentLog, ttlMs: 60_000, now: () => clock });
    expect(await lookup.find(PORTAL, NUMBER, 'RU')).toBeNull();
    expect(await lookup.find(PORTAL, NUMBER, 'RU')).toBeNull();
    expect(crm.count('crm.duplicate.findbycomm')).toBe(1);
    clock += 60_001;
    await lookup.find(PORTAL, NUMBER, 'RU');
    expect(crm.count('crm.duplicate.findbycomm')).toBe(2);
  });

  it('shares one request between concurrent lookups of a number', async () => {
    const crm = new FakeCrm();
    crm.latencyMs = 20;
    const lookup = createCrmLookup({ clients: clientsOf(crm), log: silentLog });
    await Promise.all([lookup.find(PORTAL, NUMBER, 'RU'), lookup.find(PORTAL, NUMBER, 'RU'), lookup.find(PORTAL, NUMBER, 'RU')]);
    expect(crm.count('crm.duplicate.findbycomm')).toBe(1);
  });

  it('keeps the cache bounded, evicting the oldest number', async () => {
    const crm = new FakeCrm();
    const lookup = createCrmLookup({ clients: clientsOf(crm), log: silentLog, maxEntries: 2 });
    await lookup.find(PORTAL, '+79001110001', 'RU');
    await lookup.find(PORTAL, '+79001110002', 'RU');
    await lookup.find(PORTAL, '+79001110003', 'RU');
    await lookup.find(PORTAL, '+79001110003', 'RU');
    expect(crm.count('crm.duplicate.findbycomm')).toBe(3);
    await lookup.find(PORTAL, '+79001110001', 'RU');
    expect(crm.count('crm.duplicate.findbycomm')).toBe(4);
  });

  it('forgets one number or a whole portal', async () => {
    const crm = new FakeCrm();
    const lookup = createCrmLookup({ clients: clientsOf(crm), log: silentLog });
    await lookup.find(PORTAL, NUMBER, 'RU');
    lookup.forget(PORTAL, NUMBER);
    await lookup.find(PORTAL, NUMBER, 'RU');
    lookup.forget(PORTAL);
    await lookup.find(PORTAL, NUMBER, 'RU');
    expect(crm.count('crm.duplicate.findbycomm')).toBe(3);
  });
});

describe('auto-create', () => {
  it('creates a contact named <prefix><number> with a WORK phone and the bound user responsible', async () => {
    const crm = new FakeCrm();
    const contacts = createCrmContacts({ store: storeWith(autoOn()), clients: clientsOf(crm), adapterFor: () => undefined, log: silentLog });
    const ref = await contacts.resolveCaller(PORTAL, NUMBER, 'inbound', 7);
    expect(ref?.entityType).toBe('CONTACT');
    const add = crm.calls.find((c) => c.method === 'crm.contact.add');
    expect(add?.params.fields).toMatchObject({
      NAME: 'Automatic New Contact -+79001234567',
      PHONE: [{ VALUE: NUMBER, VALUE_TYPE: 'WORK' }],
      ASSIGNED_BY_ID: 7,
    });
    expect(crm.records.CONTACT.get(ref?.entityId ?? 0)).toBeDefined();
  });

  it('names a lead in TITLE and NAME', async () => {
    const crm = new FakeCrm();
    const contacts = createCrmContacts({ store: storeWith(autoOn({ entityType: 'LEAD', namePrefix: 'New: ' })), clients: clientsOf(crm), adapterFor: () => undefined, log: silentLog });
    const ref = await contacts.resolveCaller(PORTAL, NUMBER, 'inbound', undefined);
    expect(ref?.entityType).toBe('LEAD');
    const fields = crm.calls.find((c) => c.method === 'crm.lead.add')?.params.fields;
    expect(fields).toMatchObject({ TITLE: 'New: +79001234567', NAME: 'New: +79001234567' });
    expect(fields).not.toHaveProperty('ASSIGNED_BY_ID');
  });

  it('creates one record when several calls from a new number arrive at once, and the next call finds it in the cache', async () => {
    const crm = new FakeCrm();
    crm.latencyMs = 15;
    const contacts = createCrmContacts({ store: storeWith(autoOn()), clients: clientsOf(crm), adapterFor: () => undefined, log: silentLog });
    const refs = await Promise.all(Array.from({ length: 5 }, () => contacts.resolveCaller(PORTAL, NUMBER, 'inbound', 1)));
    expect(crm.count('crm.contact.add')).toBe(1);
    expect(new Set(refs.map((r) => r?.entityId)).size).toBe(1);
    const lookups = crm.count('crm.duplicate.findbycomm');
    expect(await contacts.resolveCaller(PORTAL, NUMBER, 'inbound', 1)).toEqual(refs[0]);
    expect(crm.count('crm.duplicate.findbycomm')).toBe(lookups);
  });

  it('looks again right before creating, so a record made since the cached "unknown" is used', async () => {
    const crm = new FakeCrm();
    let t = 0;
    const lookup = createCrmLookup({ clients: clientsOf(crm), log: silentLog, now: () => t });
    const settings = autoOn();
    const creator = createAutoCreator({ clients: clientsOf(crm), lookup, settingsOf: () => settings, log: silentLog });
    expect(await lookup.find(PORTAL, NUMBER, 'RU')).toBeNull();
    const id = crm.add('CONTACT', { NAME: 'Made by hand', PHONE: [{ VALUE: '89001234567', VALUE_TYPE: 'MOBILE' }] });
    t = 5_000;
    expect(await creator.createForUnknown(PORTAL, NUMBER, 'inbound', 1)).toEqual({ entityType: 'CONTACT', entityId: id });
    expect(crm.count('crm.contact.add')).toBe(0);
  });

  it('does not ask Bitrix24 twice when the ring\'s own lookup answered a moment ago', async () => {
    const crm = new FakeCrm();
    const contacts = createCrmContacts({ store: storeWith(autoOn()), clients: clientsOf(crm), adapterFor: () => undefined, log: silentLog });
    expect(await contacts.resolveCaller(PORTAL, NUMBER, 'inbound', 1)).toMatchObject({ entityType: 'CONTACT' });
    expect(crm.count('crm.duplicate.findbycomm')).toBe(1);
    expect(crm.count('crm.contact.add')).toBe(1);
  });

  it('does nothing for a direction that is off, for internal calls and for hidden numbers', async () => {
    const crm = new FakeCrm();
    const contacts = createCrmContacts({ store: storeWith(autoOn({ inbound: false, outbound: true })), clients: clientsOf(crm), adapterFor: () => undefined, log: silentLog });
    expect(await contacts.resolveCaller(PORTAL, NUMBER, 'inbound', 1)).toBeNull();
    expect(await contacts.resolveCaller(PORTAL, NUMBER, 'internal', 1)).toBeNull();
    expect(await contacts.resolveCaller(PORTAL, 'anonymous', 'outbound', 1)).toBeNull();
    expect(await contacts.resolveCaller(PORTAL, '1001', 'outbound', 1)).toBeNull();
    expect(crm.count('crm.contact.add') + crm.count('crm.lead.add')).toBe(0);
    expect(await contacts.resolveCaller(PORTAL, NUMBER, 'outbound', 1)).not.toBeNull();
  });

  it('does nothing when auto-create is off, and binds a known number without creating', async () => {
    const crm = new FakeCrm();
    const id = crm.add('COMPANY', { TITLE: 'ACME', PHONE: [{ VALUE: '+7 900 123 45 67', VALUE_TYPE: 'WORK' }] });
    const contacts = createCrmContacts({ store: storeWith(autoOn({ enabled: false })), clients: clientsOf(crm), adapterFor: () => undefined, log: silentLog });
    expect(await contacts.resolveCaller(PORTAL, NUMBER, 'inbound', 1)).toEqual({ entityType: 'COMPANY', entityId: id });
    expect(await contacts.resolveCaller(PORTAL, '+79009999999', 'inbound', 1)).toBeNull();
    expect(crm.count('crm.contact.add')).toBe(0);
  });

  it('answers null in time when Bitrix24 is slow, and the record made meanwhile is found by the next call', async () => {
    // A fake clock, not a stopwatch: "in time" is the answer arriving at the 30 ms bound while Bitrix24 (60 ms a
    // request) has not answered yet, which holds however busy the machine is.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const crm = new FakeCrm();
      crm.latencyMs = 60;
      const contacts = createCrmContacts({ store: storeWith(autoOn()), clients: clientsOf(crm), adapterFor: () => undefined, log: silentLog, resolveTimeoutMs: 30 });
      const answers: (CrmRef | null)[] = [];
      const answered = contacts.resolveCaller(PORTAL, NUMBER, 'inbound', 1).then((a) => { answers.push(a); });
      await vi.advanceTimersByTimeAsync(30);
      await answered;
      expect(answers).toEqual([null]);
      expect(crm.count('crm.contact.add')).toBe(0);
      await vi.advanceTimersByTimeAsync(250);
      expect(crm.count('crm.contact.add')).toBe(1);
      crm.latencyMs = 0;
      expect(await contacts.resolveCaller(PORTAL, NUMBER, 'inbound', 1)).toMatchObject({ entityType: 'CONTACT' });
      expect(crm.count('crm.contact.add')).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('answers null (no throw) when Bitrix24 refuses, and tries again on the next call', async () => {
    const crm = new FakeCrm();
    crm.failing.add('crm.contact.add');
    const contacts = createCrmContacts({ store: storeWith(autoOn()), clients: clientsOf(crm), adapterFor: () => undefined, log: silentLog });
    expect(await contacts.resolveCaller(PORTAL, NUMBER, 'inbound', 1)).toBeNull();
    crm.failing.clear();
    expect(await contacts.resolveCaller(PORTAL, NUMBER, 'inbound', 1)).toMatchObject({ entityType: 'CONTACT' });
  });
});
