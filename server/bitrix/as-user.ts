/**
 * Bitrix24 REST with an EMPLOYEE's own token (the frame's AUTH_ID), not the app's: what the employee may read is
 * then decided by Bitrix24's own CRM rights (issue 10 point 7). Built like `profileOf` in client.ts: a fresh SDK
 * transport per use, the user's token never refreshed (an expired one is simply refused), never stored.
 *
 * Bitrix24 facts used (apidocs.bitrix24.com):
 * - An OAuth token acts with the rights of the user it was issued to (settings/oauth/index.html; reference §1.2).
 * - batch (settings/how-to-call-rest-api/batch.html): `cmd[key]=method?query`, answered as
 *   `{result: {result: {...}, result_error: {...}}}`; one HTTP request however many commands (at most 50).
 */
import { ApiVersion, B24OAuth, HttpV2, type AjaxResult } from '@bitrix24/b24jssdk';
import { unauthorized } from '../errors.js';
import type { Portal } from '../store/records.js';
import { readBatchAnswer, sdkStatus } from './answers.js';
import { toBitrixError } from './errors.js';
import type { BitrixTransport } from './guarded-transport.js';
import { batchCommandLine } from './query.js';
import { restrictionFor } from './rate-plan.js';
import { BitrixError, type BatchCommand, type BatchResult } from './types.js';

/** Who is asking: the portal, the Bitrix24 user and that user's frame token (already checked by frame auth). */
export interface UserAuth {
  portal: Portal;
  userId: number;
  accessToken: string;
}

/** The part of a Bitrix24 client that reads with a user's token. */
export interface UserRest {
  batch(commands: BatchCommand[]): Promise<BatchResult>;
}

export interface UserRestOptions {
  clientId: string;
  clientSecret: string;
  /** Address policy at connect time and no redirects (guarded-transport.ts): a user's token must not be sent elsewhere either. */
  transport: Pick<BitrixTransport, 'guardAxios'>;
  now?: () => number;
  /** Per-request timeout, ms. */
  timeoutMs?: number;
}

const MAX_BATCH = 50;
/** The frame token itself is no longer good (reference §1.6): the frame must fetch a fresh one, so 401, not a 5xx. */
const TOKEN_REFUSED = new Set(['expired_token', 'invalid_token', 'NO_AUTH_FOUND', 'WRONG_AUTH_TYPE', 'user_access_error']);

function userCallFailed(err: unknown): Error {
  const e = toBitrixError(err);
  return TOKEN_REFUSED.has(e.code) ? unauthorized('the Bitrix24 frame token is no longer valid: reload the app') : e;
}

/** A REST transport acting as `user` (one per use: nothing of a user's token outlives the request). */
export function restAsUser(user: UserAuth, opts: UserRestOptions): UserRest {
  const now = opts.now ?? Date.now;
  const { portal, accessToken } = user;
  const sdk = new B24OAuth({
    applicationToken: '', userId: user.userId, memberId: portal.memberId, accessToken, refreshToken: '',
    expires: Math.floor(now() / 1000) + 3600, expiresIn: 3600, scope: portal.scope, domain: portal.domain,
    clientEndpoint: portal.clientEndpoint, serverEndpoint: portal.serverEndpoint, status: sdkStatus(portal.status),
  }, { clientId: opts.clientId, clientSecret: opts.clientSecret }, { restrictionParams: restrictionFor('standard', { maxRetries: 1 }) });
  // The frame token is the user's own: we never refresh it. An expired one is refused, and the frame gets a new one.
  sdk.setCustomRefreshAuth(() => Promise.reject(new BitrixError('expired_token', 'the frame token expired', 401, false)));
  const http = sdk.getHttpClient(ApiVersion.v2) as HttpV2;
  opts.transport.guardAxios(http.ajaxClient, portal.memberId);
  if (opts.timeoutMs) http.ajaxClient.defaults.timeout = opts.timeoutMs;

  return {
    async batch(commands) {
      if (commands.length === 0) return { results: {}, errors: {} };
      if (commands.length > MAX_BATCH) {
        throw new BitrixError('ERROR_BATCH_LENGTH_EXCEEDED', `a batch holds at most ${MAX_BATCH} commands, got ${commands.length}`, 400, false);
      }
      const cmd: Record<string, string> = {};
      for (const c of commands) cmd[c.key] = batchCommandLine(c.method, c.params);
      let res: AjaxResult;
      try {
        res = await http.call('batch', { halt: 0, cmd });
      } catch (err) {
        throw userCallFailed(err);
      }
      if (!res.isSuccess) {
        for (const e of res.getErrors()) throw userCallFailed(e);
        throw new BitrixError('ERROR_UNEXPECTED_ANSWER', 'Bitrix24 answered without result', 0, true);
      }
      return readBatchAnswer(res.getData()?.result, commands);
    },
  };
}

/** Bitrix24 answers meaning "this user may not read this record" (or it is gone), as opposed to a failure. */
export function isReadRefusal(code: string, description: string): boolean {
  if (code === 'ACCESS_DENIED' || code === 'NOT_FOUND') return true;
  // The legacy crm.<type>.get answers an empty code (read as ERROR_CORE) with the reason in the text
  // (api-reference/crm/contacts/crm-contact-get.md: "Access denied", "Not found").
  return (code === '' || code === 'ERROR_CORE') && /^(access denied|not found)/i.test(description.trim());
}
