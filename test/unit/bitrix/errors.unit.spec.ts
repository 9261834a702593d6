import { AjaxError, SdkError } from '@bitrix24/b24jssdk';
import { describe, expect, it } from 'vitest';
import { answerError, isRetryable, toBitrixError } from '../../../server/bitrix/errors.js';
import { BitrixError } from '../../../server/bitrix/types.js';

const ajax = (code: string, status: number, originalError: unknown = null) =>
  new AjaxError({ code, description: `${code} happened`, status, requestInfo: { method: 'x', params: {}, requestId: 'r' }, originalError });

describe('Bitrix24 error normalization', () => {
  it.each([
    ['QUERY_LIMIT_EXCEEDED', 503, true],
    ['OPERATION_TIME_LIMIT', 429, true],
    ['INTERNAL_SERVER_ERROR', 500, true],
    ['NETWORK_ERROR', 0, true],
    ['ERROR_CORE', 400, false],
    ['WRONG_AUTH_TYPE', 403, false],
    ['NO_AUTH_FOUND', 401, false],
    ['PORTAL_NEEDS_REINSTALL', 401, false],
  ])('%s (HTTP %i) retryable=%s', (code, status, retryable) => {
    expect(isRetryable(code, status)).toBe(retryable);
    const e = toBitrixError(ajax(code, status));
    expect(e).toBeInstanceOf(BitrixError);
    expect(e.code).toBe(code);
    expect(e.retryable).toBe(retryable);
  });

  it('unwraps our own error carried inside the SDK wrapper (refresh callback)', () => {
    const ours = new BitrixError('PORTAL_NEEDS_REINSTALL', 'gone', 401, false);
    const wrapped = ajax('JSSDK_UNKNOWN_ERROR', 0, ours);
    expect(toBitrixError(wrapped)).toBe(ours);
  });

  it('turns a transport failure into a retryable NETWORK_ERROR', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(toBitrixError(refused)).toMatchObject({ code: 'NETWORK_ERROR', retryable: true });
  });

  it('keeps other SDK errors, not retryable', () => {
    const e = toBitrixError(new SdkError({ code: 'JSSDK_BATCH_TOO_LARGE', description: 'too big', status: 400 }));
    expect(e).toMatchObject({ code: 'JSSDK_BATCH_TOO_LARGE', retryable: false });
  });

  it('reads a batch sub-command error', () => {
    expect(answerError('', 'Call is not found')).toMatchObject({ code: 'ERROR_CORE', retryable: false });
    expect(answerError('QUERY_LIMIT_EXCEEDED', 'Too many requests', 503)).toMatchObject({ retryable: true });
  });
});
