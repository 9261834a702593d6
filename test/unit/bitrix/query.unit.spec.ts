import { describe, expect, it } from 'vitest';
import { batchCommandLine, encodeBitrixQuery } from '../../../server/bitrix/query.js';

describe('batch command encoding (PHP http_build_query form)', () => {
  it('encodes nested fields with bracketed keys, in order', () => {
    const q = encodeBitrixQuery({ fields: { TITLE: 'A', PHONE: [{ VALUE: '1', VALUE_TYPE: 'WORK' }] } });
    expect(decodeURIComponent(q)).toBe('fields[TITLE]=A&fields[PHONE][0][VALUE]=1&fields[PHONE][0][VALUE_TYPE]=WORK');
  });

  it('percent-encodes + and & so PHP does not read a space or a new parameter', () => {
    const q = encodeBitrixQuery({ PHONE_NUMBER: '+1 555 & co' });
    expect(q).toBe('PHONE_NUMBER=%2B1%20555%20%26%20co');
    expect(new URLSearchParams(q).get('PHONE_NUMBER')).toBe('+1 555 & co');
  });

  it('keeps $result references intact after decoding', () => {
    const line = batchCommandLine('telephony.externalCall.finish', { CALL_ID: '$result[reg][CALL_ID]', USER_ID: 5 });
    const [method, query] = line.split('?');
    expect(method).toBe('telephony.externalCall.finish');
    expect(new URLSearchParams(query).get('CALL_ID')).toBe('$result[reg][CALL_ID]');
  });

  it('writes booleans as 1/0, null as empty, skips undefined, and a bare method without params', () => {
    expect(encodeBitrixQuery({ a: true, b: false, c: null, d: undefined })).toBe('a=1&b=0&c=');
    expect(batchCommandLine('profile', {})).toBe('profile');
  });
});
