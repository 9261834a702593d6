import { asRecord } from './answers.js';
import { BitrixError } from './types.js';

/**
 * What one frame-token check asks the portal, in ONE request (`batch`): who the token's user is and which application
 * the token was issued to. The JS SDK's own helper loads the same pair in one batch (b24jssdk helper-manager.ts,
 * `loadData`: `app.info` + `profile`), so a check still costs a single request of the portal's rate limit.
 *
 * - `profile` (scope basic): `{ID, ADMIN, NAME, …}` for the token's user
 *   (https://apidocs.bitrix24.com/api-reference/common/users/profile.html).
 * - `app.info` (scope basic, "any user"): the CALLING application as the portal knows it, `{ID, CODE, VERSION,
 *   STATUS, INSTALLED, …}` (https://apidocs.bitrix24.com/api-reference/common/system/app-info.html). It answers for
 *   the app the token belongs to: that is how a token of another app is told apart.
 */
export const FRAME_CHECK_BATCH = { halt: 0, cmd: { profile: 'profile', app: 'app.info' } } as const;

/** The frame user behind an AUTH_ID. */
export interface FrameProfile {
  userId: number;
  isAdmin: boolean;
}

/**
 * The `app.info` CODE our own app has on every portal, when we can know it from the configuration.
 * A LOCAL app's client_id has the form `local.<hex>.<digits>`, and app.info answers a local app's CODE in exactly that
 * form (dev.1c-bitrix.ru/rest_help/general/app_info.php: `"CODE":"local.56017020f07e17.98523769"`): for a local app
 * the CODE is its client_id. A Market app's client_id is `app.<hex>.<digits>` while its CODE is the Market code
 * (apidocs example: `"CODE":"telefum24.kp10"`), which the configuration does not hold: then nothing is compared
 * (the OAuth server's app.info still pins every install to our client_id, install-trust.ts).
 * That a local app's CODE equals its client_id is read from the two doc examples, not stated as a rule.
 */
export function expectedAppCode(clientId: string): string | null {
  return clientId.startsWith('local.') ? clientId : null;
}

/** `{"ID":"1","ADMIN":true}`; ADMIN also seen as "Y"/1 in older answers. */
function readProfile(value: unknown): FrameProfile {
  const profile = asRecord(value);
  const userId = Number(profile.ID);
  if (!Number.isInteger(userId) || userId <= 0) throw new BitrixError('NO_AUTH_FOUND', 'profile answered without a user id', 401, false);
  const admin = profile.ADMIN;
  return { userId, isAdmin: admin === true || admin === 'Y' || admin === 1 || admin === '1' };
}

/**
 * Reads the batch answer (`{result: {profile, app}, result_error: {...}}`, reference §3 batch). A token whose
 * application is not ours (when we know our CODE) is refused like an invalid token: 401, never cached as a user.
 * When app.info itself failed inside the batch we cannot tell whose token it is and refuse too (fail closed).
 */
export function readFrameCheck(answer: unknown, appCode: string | null): FrameProfile {
  const body = asRecord(answer);
  const results = asRecord(body.result);
  const errors = asRecord(body.result_error);
  if ('profile' in errors || !('profile' in results)) {
    const e = asRecord(errors.profile);
    const code = typeof e.error === 'string' && e.error ? e.error : 'NO_AUTH_FOUND';
    throw new BitrixError(code, 'profile refused the frame token', 401, false);
  }
  const profile = readProfile(results.profile);
  if (appCode === null) return profile;
  const code = asRecord(results.app).CODE;
  if (typeof code !== 'string' || code === '') {
    throw new BitrixError('WRONG_APPLICATION', 'app.info did not name the token\'s application', 401, false);
  }
  if (code !== appCode) throw new BitrixError('WRONG_APPLICATION', 'the frame token was issued to another application', 401, false);
  return profile;
}
