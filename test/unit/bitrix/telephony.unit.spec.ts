import { describe, expect, it } from 'vitest';
import { attachRecord, finishCall, hideCall, readExternalLines, registerCall, showCall } from '../../../server/bitrix/telephony.js';
import { findByPhone, readDuplicates } from '../../../server/bitrix/crm.js';
import { readEvents, readPlacements } from '../../../server/bitrix/events.js';
import { readUser } from '../../../server/bitrix/users.js';

describe('typed Bitrix24 wrappers', () => {
  it('register carries the unique EXTERNAL_CALL_ID, the line and the CRM binding', () => {
    const c = registerCall({
      userId: 5, phoneNumber: '+15551234567', type: 2, externalCallId: 'pbx-1700000000.12', lineNumber: 'pbx-1',
      crm: { entityType: 'CONTACT', entityId: 9 }, startedAt: new Date('2026-01-02T03:04:05Z'),
    });
    expect(c).toEqual({
      method: 'telephony.externalCall.register',
      params: {
        USER_ID: 5, PHONE_NUMBER: '+15551234567', TYPE: 2, EXTERNAL_CALL_ID: 'pbx-1700000000.12', LINE_NUMBER: 'pbx-1',
        SHOW: 1, CRM_CREATE: 0, CALL_START_DATE: '2026-01-02T03:04:05.000Z', CRM_ENTITY_TYPE: 'CONTACT', CRM_ENTITY_ID: 9,
      },
    });
  });

  it('finish rounds the duration and never sends a negative one', () => {
    expect(finishCall({ callId: 'c', userId: 1, durationSeconds: -3, statusCode: '304' }).params).toEqual({ CALL_ID: 'c', USER_ID: 1, DURATION: 0, STATUS_CODE: '304' });
    expect(finishCall({ callId: 'c', userId: 1, durationSeconds: 61.6, statusCode: '200' }).params.DURATION).toBe(62);
  });

  it('show/hide take user arrays; attachRecord without content asks for an upload URL', () => {
    expect(showCall('c', [1, 2]).params).toEqual({ CALL_ID: 'c', USER_ID: [1, 2] });
    expect(hideCall('c', [3]).method).toBe('telephony.externalCall.hide');
    expect(attachRecord({ callId: 'c', filename: 'r.mp3' }).params).toEqual({ CALL_ID: 'c', FILENAME: 'r.mp3' });
  });

  it('findbycomm uses the lower-case params and at most 20 values', () => {
    const c = findByPhone(Array.from({ length: 25 }, (_, i) => `+1555000${i}`));
    expect(c.method).toBe('crm.duplicate.findbycomm');
    expect((c.params.values as string[]).length).toBe(20);
    expect(c.params.type).toBe('PHONE');
    expect(readDuplicates({ LEAD: [3], CONTACT: ['275', 2297] })).toEqual([
      { entityType: 'CONTACT', entityId: 275 }, { entityType: 'CONTACT', entityId: 2297 }, { entityType: 'LEAD', entityId: 3 },
    ]);
    expect(readDuplicates([])).toEqual([]);
  });

  it('reads lines, event and placement bindings and users as Bitrix24 returns them (strings)', () => {
    expect(readExternalLines([{ NUMBER: 'pbx-1', NAME: 'Yeastar PBX', CRM_AUTO_CREATE: 'N' }])).toEqual([{ number: 'pbx-1', name: 'Yeastar PBX', crmAutoCreate: false }]);
    expect(readEvents([{ event: 'onexternalcallstart', handler: 'h' }])).toEqual([{ event: 'ONEXTERNALCALLSTART', handler: 'h' }]);
    expect(readPlacements([{ placement: 'CALL_CARD', handler: 'h', title: 't' }])).toEqual([{ placement: 'CALL_CARD', handler: 'h' }]);
    expect(readUser({ ID: '7', ACTIVE: true, NAME: 'A', LAST_NAME: 'B', EMAIL: 'a@b', UF_PHONE_INNER: '101' }))
      .toEqual({ id: 7, active: true, name: 'A', lastName: 'B', email: 'a@b', innerPhone: '101' });
    expect(readUser({ ID: 'x' })).toBeUndefined();
  });
});
