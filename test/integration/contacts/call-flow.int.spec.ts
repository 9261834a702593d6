/**
 * The whole product for the contacts part: startServer with the PBX supervisor, contacts and calls wired as the
 * composition root wires them, both emulators, a real install. An unknown caller rings a bound extension → one
 * contact `Automatic New Contact -<number>` is created and the call's screen pop (telephony.externalCall.register)
 * is bound to it; a second call from the number reuses it.
 */
import { describe, expect, it } from 'vitest';
import { eventually } from '../foundation/server-under-test.js';
import { installedServerForThisFile } from '../support/installed-server.js';

describe('auto-create in the call flow', () => {
  const product = installedServerForThisFile();

  it('binds the screen pop of an unknown caller to the contact it creates, once per number', async () => {
    const agent = (await product.b24.addUser(product.memberId, { name: 'Alice', lastName: 'Smith', email: 'alice@example.com' })).id;
    const saved = await product.api('PUT', '/settings', {
      enabled: true,
      pbx: { baseUrl: product.pbx.url, clientId: product.pbx.clientId, clientSecret: product.pbx.clientSecret, events: 'websocket' },
      defaultCountry: 'ZA',
      autoCreate: { enabled: true, inbound: true, outbound: false, entityType: 'CONTACT' },
    });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    await eventually(() => product.server.services.parts.pbxStatus(product.memberId).state === 'connected', 15_000);
    const bound = await product.api('POST', '/bindings/auto', { dryRun: false });
    expect(bound.body).toMatchObject({ applied: true, pairs: [{ userId: agent, extension: '1001', reason: 'email' }] });

    await product.pbx.scenario('inbound-answered', { from: '0813539441', to: '1001', wait: true });
    await eventually(async () => (await product.b24.calls(product.memberId)).length === 1, 15_000);
    // Named after the number as the PBX presented it (the manual's rule, issue 11); the phone is international.
    const contacts = (await product.b24.listCrm(product.memberId, 'CONTACT')).filter((c) => c.NAME === 'Automatic New Contact -0813539441');
    expect(JSON.stringify(contacts[0]?.PHONE)).toContain('+27813539441');
    expect(contacts).toHaveLength(1);
    const contactId = Number(contacts[0]?.ID);
    expect(contacts[0]?.ASSIGNED_BY_ID).toEqual(expect.toSatisfy((v: unknown) => Number(v) === agent));
    const [call] = await product.b24.calls(product.memberId);
    expect(call).toMatchObject({ userId: agent, crmEntityType: 'CONTACT', crmEntityId: contactId });

    await product.pbx.scenario('inbound-answered', { from: '+27 81 353 9441', to: '1001', wait: true });
    await eventually(async () => (await product.b24.calls(product.memberId)).length === 2, 15_000);
    const again = await product.b24.calls(product.memberId);
    expect(again.every((c) => c.crmEntityType === 'CONTACT' && c.crmEntityId === contactId)).toBe(true);
    expect((await product.b24.listCrm(product.memberId, 'CONTACT')).filter((c) => String(c.NAME).startsWith('Automatic New Contact -'))).toHaveLength(1);
  });

  it('puts a known lead that calls into the chosen PBX phonebook after the call', async () => {
    const created = await product.api('POST', '/phonebooks', { name: 'From Bitrix24' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const phonebookId = (created.body as { id: string }).id;
    const saved = await product.api('PUT', '/settings', { contactSync: { enabled: true, entityType: 'LEAD', phonebookId } });
    expect(saved.status, JSON.stringify(saved.body)).toBe(200);
    const leadId = await product.b24.seedCrm(product.memberId, 'LEAD', {
      TITLE: 'Quote request', NAME: 'Thabo', LAST_NAME: 'Nkosi', PHONE: [{ VALUE: '082 555 0101', VALUE_TYPE: 'MOBILE' }],
    });

    await product.pbx.scenario('inbound-answered', { from: '0825550101', to: '1001', wait: true });
    await eventually(async () => (await product.b24.calls(product.memberId)).some((c) => c.crmEntityType === 'LEAD' && c.crmEntityId === leadId), 15_000);
    await eventually(async () => {
      const rows = (await product.api('GET', '/contact-sync')).body as { entityId: number; state: string }[];
      return rows.some((r) => r.entityId === leadId && r.state === 'synced');
    }, 15_000);
    const book = (await product.pbx.phonebooks()).find((b) => String(b.id) === phonebookId);
    const inBook = (await product.pbx.companyContacts()).filter((c) => book?.contactIds.includes(Number(c.id)));
    expect(inBook).toHaveLength(1);
    const text = JSON.stringify(inBook[0]);
    expect(text).toContain('Thabo');
    expect(text).toContain('Nkosi');
    expect(text).toContain('+27825550101');
  });
});
