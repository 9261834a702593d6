import type { PbxErrorCode } from '../../../contract/error-codes.js';
import { PbxError } from '../adapter.js';

/**
 * Yeastar answers HTTP 200 for application errors and puts the outcome in `{errcode, errmsg}`
 * (https://help.yeastar.com/en/p-series-appliance-edition/developer-guide/response-result.html).
 * Each known errcode becomes one PbxError code with words an admin can act on (reference §6.2).
 */

export interface Envelope {
  errcode: number;
  errmsg: string;
  [key: string]: unknown;
}

export function isEnvelope(value: unknown): value is Envelope {
  return typeof value === 'object' && value !== null && 'errcode' in value
    && (typeof (value as { errcode: unknown }).errcode === 'number' || /^-?\d+$/.test(String((value as { errcode: unknown }).errcode)));
}

function invalidFields(env: Envelope): string {
  const list = env['invalid_param_list'];
  if (!Array.isArray(list)) return '';
  const names = list
    .map((p: unknown) => (typeof p === 'object' && p !== null && 'field' in p ? String((p as { field: unknown }).field) : ''))
    .filter((f) => f !== '');
  return names.length > 0 ? ` (${names.join(', ')})` : '';
}

const KNOWN: Record<number, { code: PbxErrorCode; words: string }> = {
  [-1]: { code: 'PBX_AUTH_FAILED', words: 'the PBX refused the Client ID / Client Secret' },
  10001: { code: 'PBX_NO_SUCH_API', words: 'this PBX does not offer this API (older firmware, or the API is switched off)' },
  10004: { code: 'PBX_TOKEN_EXPIRED', words: 'the access token expired or is not valid' },
  10005: { code: 'PBX_ACCESS_DENIED', words: 'the API application lacks the permission for this (Integrations > API on the PBX)' },
  40002: { code: 'PBX_BAD_REQUEST', words: 'the PBX rejected a parameter' },
  40003: { code: 'PBX_DUPLICATE', words: 'the PBX already has a record with this value' },
  60001: { code: 'PBX_NOT_FOUND', words: 'the PBX has no such record' },
  60002: { code: 'PBX_TOKEN_LIMIT', words: 'the PBX allows at most 8 live tokens per API client and all are taken; they free up within 30 minutes' },
  70087: { code: 'PBX_IP_FORBIDDEN', words: "the PBX does not accept API calls from this server's IP address (API IP allow-list, or the IP was blocked after failed logins)" },
};

/** The error for an envelope with errcode ≠ 0: the PBX's own errmsg is kept, in plain words beside ours. */
export function envelopeError(env: Envelope, what: string): PbxError {
  const errcode = Number(env.errcode);
  const known = KNOWN[errcode];
  const pbxWords = typeof env.errmsg === 'string' && env.errmsg !== '' ? env.errmsg : 'no message';
  if (known) return new PbxError(known.code, `${what}: ${known.words}${invalidFields(env)} [PBX said ${errcode} ${pbxWords}]`);
  return new PbxError('PBX_ERROR', `${what}: the PBX answered ${errcode} ${pbxWords}${invalidFields(env)}`);
}

/** Checks a JSON reply: non-200 HTTP, non-JSON, and errcode ≠ 0 all become PbxError. */
export function unwrapEnvelope(status: number, json: unknown, what: string): Envelope {
  if (status === 401 || status === 403) {
    throw new PbxError('PBX_ACCESS_DENIED', `${what}: the PBX answered HTTP ${status}`);
  }
  if (status < 200 || status >= 300) {
    throw new PbxError('PBX_HTTP_ERROR', `${what}: the PBX answered HTTP ${status}${status === 404 ? ' (is this the PBX address, with the API enabled?)' : ''}`);
  }
  if (!isEnvelope(json)) throw new PbxError('PBX_BAD_RESPONSE', `${what}: the answer is not a Yeastar API response (is this the PBX address?)`);
  if (Number(json.errcode) !== 0) throw envelopeError(json, what);
  return json;
}

/** Codes after which logging in again cannot help until an admin changes something. */
export const TERMINAL_AUTH_CODES: ReadonlySet<string> = new Set<PbxErrorCode>(['PBX_AUTH_FAILED', 'PBX_IP_FORBIDDEN', 'PBX_ACCESS_DENIED']);
