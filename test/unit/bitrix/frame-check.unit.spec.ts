import { describe, expect, it } from 'vitest';
import { expectedAppCode, readFrameCheck } from '../../../server/bitrix/frame-check.js';
import { BitrixError } from '../../../server/bitrix/types.js';

const OURS = 'local.emulator0000000001.00000001';
const answer = (profile: unknown, app: unknown, errors: Record<string, unknown> = {}) =>
  ({ result: { profile, app }, result_error: Object.keys(errors).length ? errors : [] });

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof BitrixError ? `${err.code}/${err.status}` : 'other';
  }
  return 'none';
}

describe('frame check (profile + app.info in one batch)', () => {
  it('reads the user and the admin flag in the forms Bitrix24 answers', () => {
    expect(readFrameCheck(answer({ ID: '7', ADMIN: true }, { CODE: OURS }), OURS)).toEqual({ userId: 7, isAdmin: true });
    expect(readFrameCheck(answer({ ID: 8, ADMIN: 'Y' }, { CODE: OURS }), OURS)).toEqual({ userId: 8, isAdmin: true });
    expect(readFrameCheck(answer({ ID: '9', ADMIN: false }, { CODE: OURS }), OURS)).toEqual({ userId: 9, isAdmin: false });
  });

  it('refuses a token of another application (401, not retryable), and one whose application cannot be told', () => {
    expect(code(() => readFrameCheck(answer({ ID: '7', ADMIN: true }, { CODE: 'local.other.2' }), OURS))).toBe('WRONG_APPLICATION/401');
    expect(code(() => readFrameCheck(answer({ ID: '7', ADMIN: true }, {}), OURS))).toBe('WRONG_APPLICATION/401');
    expect(code(() => readFrameCheck(answer({ ID: '7', ADMIN: true }, null, { app: { error: 'insufficient_scope' } }), OURS))).toBe('WRONG_APPLICATION/401');
  });

  it('refuses an answer without a user', () => {
    expect(code(() => readFrameCheck(answer({}, { CODE: OURS }), OURS))).toBe('NO_AUTH_FOUND/401');
    expect(code(() => readFrameCheck(answer(null, null, { profile: { error: 'NO_AUTH_FOUND' } }), OURS))).toBe('NO_AUTH_FOUND/401');
    expect(code(() => readFrameCheck('garbage', OURS))).toBe('NO_AUTH_FOUND/401');
  });

  it('compares the CODE only for a local app (its CODE is its client_id); a Market app\'s CODE is not in our config', () => {
    expect(expectedAppCode(OURS)).toBe(OURS);
    expect(expectedAppCode('app.573ad8a0346747.09223434')).toBeNull();
    expect(expectedAppCode('')).toBeNull();
    expect(readFrameCheck(answer({ ID: '7', ADMIN: true }, { CODE: 'vendor.market_app' }), null)).toEqual({ userId: 7, isAdmin: true });
  });
});
