/**
 * Issue 11: whether calls/ looks the caller up before the register. With auto-create OFF the product used to leave the
 * match to Bitrix24's register, which only finds a record stored with the number's international digits; now every
 * number with other written forms is looked up. What a customer cares about: a record typed `8 (912) 345-67-89` gets
 * the screen pop whether auto-create is on or off, and short codes cost no request.
 */
import { describe, expect, it } from 'vitest';
import { createCrmContacts } from '../../../server/contacts/index.js';
import { FakeCrm, clientsOf, settingsWith, silentLog, storeWith } from './fakes.js';

const PORTAL = 'portal-1';

describe('lookup before the register', () => {
  const autoOff = settingsWith({ enabled: true, defaultCountry: 'RU' });

  it('is made with auto-create off for a number with other written forms, and finds the record typed nationally', async () => {
    const crm = new FakeCrm();
    const id = crm.add('CONTACT', { NAME: 'Ivan', PHONE: [{ VALUE: '8 (912) 345-67-89', VALUE_TYPE: 'MOBILE' }] });
    const contacts = createCrmContacts({ store: storeWith(autoOff), clients: clientsOf(crm), adapterFor: () => undefined, log: silentLog });
    expect(contacts.needsLookupBeforeRegister?.(PORTAL, '+79123456789', 'inbound')).toBe(true);
    expect(contacts.needsLookupBeforeRegister?.(PORTAL, '+79123456789', 'outbound')).toBe(true);
    expect(await contacts.resolveCaller(PORTAL, '+79123456789', 'inbound', 5)).toEqual({ entityType: 'CONTACT', entityId: id });
    expect(crm.count('crm.contact.add') + crm.count('crm.lead.add')).toBe(0);
  });

  it('is skipped for short codes and extensions with auto-create off: there is no other form to find', () => {
    const contacts = createCrmContacts({ store: storeWith(autoOff), clients: clientsOf(new FakeCrm()), adapterFor: () => undefined, log: silentLog });
    expect(contacts.needsLookupBeforeRegister?.(PORTAL, '112', 'inbound')).toBe(false);
    expect(contacts.needsLookupBeforeRegister?.(PORTAL, '1001', 'inbound')).toBe(false);
  });
});
