import { describe, expect, it } from 'vitest';
import { resultForReason, statusCodeFor, statusForReason } from '../../../server/calls/status-codes.js';

describe('STATUS_CODE mapping', () => {
  it('maps each result', () => {
    expect(statusCodeFor('answered')).toBe('200');
    expect(statusCodeFor('missed')).toBe('304');
    expect(statusCodeFor('voicemail')).toBe('304');
    expect(statusCodeFor('busy')).toBe('486');
    expect(statusCodeFor('failed')).toBe('603');
  });

  it('reads Yeastar 30015 reasons, with and without a SIP code', () => {
    const cases: [string, string | undefined][] = [
      ['486 Busy here', '486'], ['486 Busy Here', '486'], ['User Busy', '486'], ['404 NOT found', '404'], ['NOT found', '404'],
      ['480 Temporatily Unavailable', '480'], ['484 Address incomplete', '484'], ['603 Declined', '603'], ['410 Gone', '404'],
      ['408 Request Time', '304'], ['487 Request Terminated', '304'], ['DND', '480'], ['NO Dial Permission', '403'],
      ['NO Outbound Restrictin', '403'], ['Circuit/channel congestion', '503'], ['Line Unreachable', '503'], ['something odd', undefined],
    ];
    for (const [reason, code] of cases) expect([reason, statusForReason(reason)]).toEqual([reason, code]);
    expect(statusCodeFor('failed', 'DND')).toBe('480');
  });

  it('turns a live reason back into a result', () => {
    expect(resultForReason(undefined)).toBe('missed');
    expect(resultForReason('487 Request Terminated')).toBe('missed');
    expect(resultForReason('User Busy')).toBe('busy');
    expect(resultForReason('404 NOT found')).toBe('failed');
    expect(resultForReason('something odd')).toBe('failed');
  });
});
