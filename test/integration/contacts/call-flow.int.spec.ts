/**
 * The whole product for the contacts part: startServer with the PBX supervisor, contacts and calls wired as the
 * composition root wires them, both emulators, a real install. An unknown caller rings a bound extension → one
 * contact `Automatic New Contact -<number>` is created and the call's screen pop (telephony.externalCall.register)
 * is bound to it; a second call from the number reuses it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../../server/index.js';
import type { Bitrix24Emulator } from '../../emulators/bitrix24/harness.js';
import type { YeastarEmulator } from '../../emulators/yeastar/harness.js';
import { eventually } from '../foundation/server-under-test.js';
import { startInstalledServer, type InstalledServer } from '../support/installed-server.js';

describe('auto-create in the call flow', () => {
  let b24: Bitrix24Emulator;
  let pbx: YeastarEmulator;
  let server: RunningServer;
  let product: InstalledServer;
  let api: InstalledServer['api'];
  let memberId = '';

  beforeAll(async () => {
    product = await startInstalledServer();
    ({ b24, pbx, server, memberId, api } = product);
  }, 60_000);

  afterAll(async () => {
    await product?.close();
  }, 30_000);

  it('binds the screen pop of an unknown caller to the contact it creates, once per number', async () => {
    const agent = (await b24.addUser(memberId, { name: 'Alice', lastName: 'Smith', email: 'alice@example.com' })).id;
    const saved = await api('PUT', '/settings', {
      enabled: true,
      pbx: { baseUrl: pbx.url, clientId: pbx.clientId, clientSecret: pbx.clientSecret, events: 'websocket' },
      defaultCountry: 'ZA',
      autoCreate: { enabled: true, inbound: true, outbound: false, entityType: 'CONTACT' },
    });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    await eventually(() => server.services.parts.pbxStatus(memberId).state === 'connected', 15_000);
    const bound = await api('POST', '/bindings/auto', { dryRun: false });
    expect(bound.body).toMatchObject({ applied: true, pairs: [{ userId: agent, extension: '1001', reason: 'email' }] });

    await pbx.scenario('inbound-answered', { from: '0813539441', to: '1001', wait: true });
    await eventually(async () => (await b24.calls(memberId)).length === 1, 15_000);
    // Named after the number as the PBX presented it (the manual's rule, issue 11); the phone is international.
    const contacts = (await b24.listCrm(memberId, 'CONTACT')).filter((c) => c.NAME === 'Automatic New Contact -0813539441');
    expect(JSON.stringify(contacts[0]?.PHONE)).toContain('+27813539441');
    expect(contacts).toHaveLength(1);
    const contactId = Number(contacts[0]?.ID);
    expect(contacts[0]?.ASSIGNED_BY_ID).toEqual(expect.toSatisfy((v: unknown) => Number(v) === agent));
    const [call] = await b24.calls(memberId);
    expect(call).toMatchObject({ userId: agent, crmEntityType: 'CONTACT', crmEntityId: contactId });

    await pbx.scenario('inbound-answered', { from: '+27 81 353 9441', to: '1001', wait: true });
    await eventually(async () => (await b24.calls(memberId)).length === 2, 15_000);
    const again = await b24.calls(memberId);
    expect(again.every((c) => c.crmEntityType === 'CONTACT' && c.crmEntityId === contactId)).toBe(true);
    expect((await b24.listCrm(memberId, 'CONTACT')).filter((c) => String(c.NAME).startsWith('Automatic New Contact -'))).toHaveLength(1);
  });

  it('puts a known lead that calls into the chosen PBX phonebook after the call', async () => {
    const created = await api('POST', '/phonebooks', { name: 'From Bitrix24' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const phonebookId = (created.body as { id: string }).id;
    const saved = await api('PUT', '/settings', { contactSync: { enabled: true, entityType: 'LEAD', phonebookId } });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    const leadId = await b24.seedCrm(memberId, 'LEAD', {
      TITLE: 'Quote request', NAME: 'Thabo', LAST_NAME: 'Nkosi', PHONE: [{ VALUE: '082 555 0101', VALUE_TYPE: 'MOBILE' }],
    });

    await pbx.scenario('inbound-answered', { from: '0825550101', to: '1001', wait: true });
    await eventually(async () => (await b24.calls(memberId)).some((c) => c.crmEntityType === 'LEAD' && c.crmEntityId === leadId), 15_000);
    await eventually(async () => {
      const rows = (await api('GET', '/contact-sync')).body as { entityId: number; state: string }[];
      return rows.some((r) => r.entityId === leadId && r.state === 'synced');
    }, 15_000);
    const book = (await pbx.phonebooks()).find((b) => String(b.id) === phonebookId);
    const inBook = (await pbx.companyContacts()).filter((c) => book?.contactIds.includes(Number(c.id)));
    expect(inBook).toHaveLength(1);
    const text = JSON.stringify(inBook[0]);
    expect(text).toContain('Thabo');
    expect(text).toContain('Nkosi');
    expect(text).toContain('+27825550101');
  });
});
