/**
 * Issue 11 acceptance, end to end (startServer with every part, the Bitrix24 and Yeastar emulators, a real install):
 * for CN, RU, KZ, DE, BR, ZA, US and GB, CRM records whose phones were typed by hand in national formats
 * (`8 (912) 345-67-89`, `082 777 0404`, `138 0013 8000`, `+49 (0)89 …`), and calls whose caller ID is what that
 * country's trunk delivers (`89123456789`, `0827770404`, `13800138000`, `81049…` from abroad), with auto-create OFF:
 * - the screen pop (telephony.externalCall.register) carries that record (CRM_ENTITY_TYPE/ID),
 * - the call log (finish → the emulator's call activity) is on that record,
 * - contact sync (on for contacts) writes that record into the PBX phonebook,
 * - click-to-call on the typed number makes the PBX dial the national number its outbound routes expect.
 * Bitrix24 (and the emulator) compares the digits as typed, so without the product's own lookup with number variants
 * none of the national-format records would be found (test/unit/emulators/bitrix24/crm-users.unit.spec.ts).
 * Also: the portal's licence region (`ru_…`) is the default country shown on first setup.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { SettingsResponse } from '../../../contract/api-shapes.js';
import { eventually } from '../foundation/server-under-test.js';
import { installedServerForThisFile } from '../support/installed-server.js';
import { COUNTRY_CASES } from './cases.js';

/** The emulator's OWNER_TYPE_ID of a contact (crm.enum.ownertype). */
const CONTACT_OWNER_TYPE = 3;

describe('every call on its record, in every country, auto-create off', () => {
  // A portal bought in Russia whose admin reads Bitrix24 in English: the licence tells the country, not the language.
  const product = installedServerForThisFile({ region: 'ru', langId: 'en' });
  let agent = 0;
  let phonebookId = '';

  beforeAll(async () => {
    agent = (await product.b24.addUser(product.memberId, { name: 'Olga', lastName: 'Petrova', email: 'alice@example.com' })).id;
  }, 60_000);


  it('shows the portal\'s licence region as the default country on first setup', async () => {
    const first = (await product.api('GET', '/settings')).body as SettingsResponse;
    expect(first).toMatchObject({ defaultCountry: 'RU', portalCountry: 'RU', autoCreate: { enabled: false } });
  });

  it('connects the PBX with auto-create off and contact sync on for contacts', async () => {
    const saved = await product.api('PUT', '/settings', {
      enabled: true,
      pbx: { baseUrl: product.pbx.url, clientId: product.pbx.clientId, clientSecret: product.pbx.clientSecret, events: 'websocket' },
      autoCreate: { enabled: false },
    });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    await eventually(() => product.server.services.parts.pbxStatus(product.memberId).state === 'connected', 15_000);
    const bound = await product.api('POST', '/bindings/auto', { dryRun: false });
    expect(bound.body).toMatchObject({ applied: true, pairs: [{ userId: agent, extension: '1001' }] });
    const created = await product.api('POST', '/phonebooks', { name: 'From Bitrix24' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    phonebookId = (created.body as { id: string }).id;
    const sync = await product.api('PUT', '/settings', { contactSync: { enabled: true, entityType: 'CONTACT', phonebookId } });
    expect(sync.status, JSON.stringify(sync.body)).toBe(200);
  });

  describe.each(COUNTRY_CASES)('$country', ({ country, numbers, dials }) => {
    const ids: number[] = [];

    it(`records typed by hand in ${country} are found for calls from the trunk's caller IDs`, async () => {
      const set = await product.api('PUT', '/settings', { defaultCountry: country });
      expect(set.status, JSON.stringify(set.body)).toBe(200);
      for (const [i, n] of numbers.entries()) {
        ids.push(await product.b24.seedCrm(product.memberId, 'CONTACT', {
          NAME: `${country}${i}`, LAST_NAME: 'Typed', PHONE: [{ VALUE: n.typed, VALUE_TYPE: 'WORK' }],
        }));
      }
      for (const [i, n] of numbers.entries()) {
        const contactId = ids[i];
        const placed = await product.pbx.scenario('inbound-answered', { from: n.callerId, to: '1001', wait: true });
        await eventually(async () => (await product.b24.calls(product.memberId)).some((c) => c.phoneNumber === n.e164 && c.finished !== null), 15_000);
        const call = (await product.b24.calls(product.memberId)).find((c) => c.phoneNumber === n.e164);
        // Screen pop: register named the record (the CRM binding of the call card).
        expect(call, `${n.callerId} (${placed.callId})`).toMatchObject({ crmEntityType: 'CONTACT', crmEntityId: contactId, userId: agent });
        expect(call?.registerParams).toMatchObject({ CRM_ENTITY_TYPE: 'CONTACT', CRM_ENTITY_ID: expect.toSatisfy((v: unknown) => Number(v) === contactId) });
        // Call log: the call activity finish made is on the record.
        const activities = (await product.b24.crmActivity(product.memberId)).activities.filter((a) => a.ORIGIN_ID.includes(call?.callId ?? '-'));
        expect(activities.map((a) => [a.OWNER_TYPE_ID, a.OWNER_ID])).toEqual([[CONTACT_OWNER_TYPE, contactId]]);
      }
    });

    it(`contact sync writes those ${country} records into the PBX phonebook`, async () => {
      await eventually(async () => {
        const rows = (await product.api('GET', '/contact-sync')).body as { entityId: number; state: string }[];
        return ids.every((id) => rows.some((r) => r.entityId === id && r.state === 'synced'));
      }, 15_000);
      const book = (await product.pbx.phonebooks()).find((b) => String(b.id) === phonebookId);
      const inBook = (await product.pbx.companyContacts()).filter((c) => book?.contactIds.includes(Number(c.id)));
      for (const [i, n] of numbers.entries()) {
        const entry = inBook.find((c) => JSON.stringify(c).includes(`${country}${i}`));
        expect(JSON.stringify(entry), n.typed).toContain(n.e164);
      }
    });

    it(`click-to-call on "${numbers[0]?.typed ?? ''}" dials ${dials}`, async () => {
      const first = numbers[0];
      const contactId = ids[0];
      if (!first || contactId === undefined) throw new Error('no first number');
      await product.pbx.clearRequests();
      const { callId } = await product.b24.clickToCall(product.memberId, { userId: agent, phoneNumber: first.typed, crm: { entityType: 'CONTACT', entityId: contactId } });
      await eventually(async () => (await product.pbx.requests()).some((r) => r.path.includes('/call/dial')), 15_000);
      const dial = (await product.pbx.requests()).filter((r) => r.path.includes('/call/dial'));
      expect(dial.map((r) => r.body)).toEqual([expect.objectContaining({ caller: '1001', callee: dials })]);
      // The call is logged as the E.164 number on the same record, and the next country starts with no call open.
      await eventually(async () => (await product.b24.calls(product.memberId)).find((c) => c.callId === callId)?.finished != null, 15_000);
      await eventually(() => product.server.services.parts.gauges.callsInFlight() === 0, 15_000);
    });
  });
});
