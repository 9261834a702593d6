import { describe, expect, it } from 'vitest';
import { readExternalCallbackStart, readExternalCallStart, sameToken } from '../../../server/http/events.js';

describe('event token check', () => {
  it('matches only the exact stored token, whatever the lengths', () => {
    expect(sameToken('abc123', 'abc123')).toBe(true);
    expect(sameToken('abc124', 'abc123')).toBe(false);
    expect(sameToken('abc', 'abc123')).toBe(false);
    expect(sameToken('', '')).toBe(false);
    expect(sameToken('ü', 'u')).toBe(false);
  });
});

describe('ONEXTERNALCALLSTART / ONEXTERNALCALLBACKSTART data', () => {
  it('reads the documented string fields into our words', () => {
    expect(readExternalCallStart({
      PHONE_NUMBER: '84951234567', PHONE_NUMBER_INTERNATIONAL: '+74951234567', EXTENSION: '', USER_ID: '1269', CALL_LIST_ID: '0',
      LINE_NUMBER: 'pbx-1', IS_MOBILE: '1', CALL_ID: 'externalCall.89350264e026dace3f2b14d1f438257c.1773236989',
      CRM_ENTITY_TYPE: 'CONTACT', CRM_ENTITY_ID: '797',
    })).toEqual({
      b24CallId: 'externalCall.89350264e026dace3f2b14d1f438257c.1773236989', phoneNumber: '+74951234567', userId: 1269,
      lineNumber: 'pbx-1', crm: { entityType: 'CONTACT', entityId: 797 }, callListId: 0, isMobile: true,
    });
  });

  it('has no CRM binding for an empty or unknown entity', () => {
    const e = readExternalCallStart({ CALL_ID: 'c', PHONE_NUMBER: '+1555', USER_ID: '2', CRM_ENTITY_TYPE: '', CRM_ENTITY_ID: '0' });
    expect(e.crm).toBeNull();
    expect(e.lineNumber).toBe('');
  });

  it('refuses a click-to-call without CALL_ID or USER_ID', () => {
    expect(() => readExternalCallStart({ PHONE_NUMBER: '+1555', USER_ID: '2' })).toThrow(/CALL_ID/);
    expect(() => readExternalCallStart({ CALL_ID: 'c', PHONE_NUMBER: '+1555', USER_ID: 'x' })).toThrow(/USER_ID/);
  });

  it('reads a callback request (no CALL_ID)', () => {
    expect(readExternalCallbackStart({ PHONE_NUMBER: '+1555', TEXT: 'Call me', LINE_NUMBER: 'pbx-1', CRM_ENTITY_TYPE: 'LEAD', CRM_ENTITY_ID: '4' }))
      .toEqual({ phoneNumber: '+1555', text: 'Call me', lineNumber: 'pbx-1', crm: { entityType: 'LEAD', entityId: 4 } });
    expect(() => readExternalCallbackStart({})).toThrow(/PHONE_NUMBER/);
  });
});
