import { AxiosError } from 'axios';
import type { ErrorCode } from '../contract/error-codes.js';
import type { ApiError } from '../contract/api-shapes.js';

/**
 * A user-facing error: an i18n key and, only where the server's words add something the admin needs (which field,
 * which phonebook), those words. PBX and storage errors show our own message with a next step, never the raw text
 * ("[PBX said -1 FAILURE]").
 */
export interface UserError {
  key: string;
  detail: string | null;
}

const SERVER_FAULT = 'saveLive.errors.serverFault';
const PBX_FAULT = 'saveLive.errors.pbxError';
const RECORDING = 'saveLive.errors.pbxRecording';

/**
 * The one place where API error codes become messages people read. A `Record` over every code the server sends
 * (contract/error-codes.ts): a new server code without a message here fails typecheck.
 */
export const KEY_BY_CODE: Record<ErrorCode, string> = {
  PBX_AUTH_FAILED: 'saveLive.errors.pbxAuthFailed',
  PBX_ACCESS_DENIED: 'saveLive.errors.pbxAccessDenied',
  PBX_ADDRESS_REFUSED: 'saveLive.errors.pbxAddressRefused',
  PBX_BAD_REQUEST: PBX_FAULT,
  PBX_BAD_RESPONSE: 'saveLive.errors.pbxBadResponse',
  PBX_CLOSED: 'saveLive.errors.pbxNotAnswering',
  PBX_DUPLICATE: PBX_FAULT,
  PBX_ERROR: PBX_FAULT,
  PBX_FILE_TOO_LARGE: RECORDING,
  PBX_HTTP_ERROR: 'saveLive.errors.pbxBadResponse',
  PBX_IP_FORBIDDEN: 'saveLive.errors.pbxIpForbidden',
  PBX_NOT_A_RECORDING: RECORDING,
  PBX_NOT_ANSWERING: 'saveLive.errors.pbxNotAnswering',
  PBX_NOT_FOUND: PBX_FAULT,
  PBX_NO_SUCH_API: 'saveLive.errors.pbxNoSuchApi',
  PBX_TOKEN_EXPIRED: PBX_FAULT,
  PBX_TOKEN_LIMIT: 'saveLive.errors.pbxTokenLimit',
  PBX_UNREACHABLE: 'saveLive.errors.pbxUnreachable',
  PBX_URL_REFUSED: RECORDING,
  BAD_REQUEST: 'errors.badRequest',
  UNAUTHORIZED: 'errors.unauthorized',
  FORBIDDEN: 'errors.forbidden',
  NOT_FOUND: 'errors.notFound',
  CONFLICT: 'errors.conflict',
  PAYLOAD_TOO_LARGE: 'saveLive.errors.payloadTooLarge',
  UNSUPPORTED_MEDIA_TYPE: 'saveLive.errors.internal',
  TOO_MANY_REQUESTS: 'errors.rateLimited',
  INTERNAL: 'saveLive.errors.internal',
  PBX_NOT_CONNECTED: 'saveLive.errors.pbxNotConnected',
  PBX_UNAVAILABLE: 'saveLive.errors.pbxNotConnected',
  SECRET_REQUIRED: 'saveLive.errors.secretRequired',
  PHONEBOOK_NOT_EMPTY: 'errors.phonebookNotEmpty',
  CONTACT_SYNC_OFF: 'saveLive.errors.contactSyncOff',
  PORTAL_NEEDS_REINSTALL: 'errors.needsReinstall',
  PORTAL_NOT_FOUND: 'errors.portalNotFound',
  PORTAL_UNINSTALLED: 'saveLive.errors.portalUninstalled',
  PORTAL_ADDRESS_REFUSED: 'saveLive.errors.portalAddressRefused',
  PORTAL_FENCED: 'saveLive.errors.portalFenced',
  INSTALL_SETUP_FAILED: 'saveLive.errors.installSetupFailed',
  OAUTH_SERVER_UNREACHABLE: 'saveLive.errors.bitrixUnavailable',
  BITRIX_UNAVAILABLE: 'saveLive.errors.bitrixUnavailable',
  BITRIX_ACCESS_DENIED: 'saveLive.errors.bitrixAccessDenied',
  BITRIX_QUERY_LIMIT_EXCEEDED: 'errors.unavailable',
  OUTBOX_NOT_IDLE: 'saveLive.errors.outboxChanged',
  OUTBOX_NOT_PARKED: 'saveLive.errors.outboxChanged',
  STORE_CORRUPT: SERVER_FAULT,
  STORE_UNAVAILABLE: SERVER_FAULT,
  STORE_WRITE_FAILED: SERVER_FAULT,
  SECRET_UNREADABLE: SERVER_FAULT,
  SECRET_KEY_INVALID: SERVER_FAULT,
  SECRET_KEY_MISMATCH: SERVER_FAULT,
  SECRET_KEY_UNAVAILABLE: SERVER_FAULT,
  DATA_DIR_LOCKED: SERVER_FAULT,
  DATA_DIR_UNAVAILABLE: SERVER_FAULT,
  CLIENT_NOT_BUILT: SERVER_FAULT,
  STORE_SCHEMA_NEWER: SERVER_FAULT,
  MIGRATION_INVALID: SERVER_FAULT,
  PORTAL_LEASE_LOST: SERVER_FAULT,
  PORTAL_OWNER_UNREACHABLE: 'cluster.errors.ownerUnreachable',
};

/** Codes whose server words name what to fix (the field, the phonebook): shown under our message. */
const WORDS_HELP: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['BAD_REQUEST', 'CONFLICT', 'PHONEBOOK_NOT_EMPTY']);

/** Any other Bitrix24 REST error, forwarded as `BITRIX_<its code>` (contract/error-codes.ts). */
const BITRIX_OTHER = 'errors.bitrixError';

const KEY_BY_STATUS: Record<number, string> = {
  400: 'errors.badRequest',
  401: 'errors.unauthorized',
  403: 'errors.forbidden',
  404: 'errors.notFound',
  409: 'errors.conflict',
  429: 'errors.rateLimited',
  502: 'errors.bitrixError',
  503: 'errors.unavailable',
};

function isApiError(value: unknown): value is ApiError {
  return typeof value === 'object' && value !== null && typeof (value as ApiError).error === 'string';
}

function isListed(code: string): code is ErrorCode {
  return Object.hasOwn(KEY_BY_CODE, code);
}

// AppError messages carry their code as a prefix ("BAD_REQUEST: invalid request: …"); people need only the words.
function plainMessage(body: ApiError): string | null {
  const prefix = `${body.error}: `;
  const text = body.message.startsWith(prefix) ? body.message.slice(prefix.length) : body.message;
  return text.trim() === '' ? null : text;
}

/** The message key of a code the server sent (the PBX link's `lastErrorCode`, a test answer's `code`). */
export function keyForCode(code: string | null | undefined): string {
  if (!code) return 'errors.unknown';
  if (isListed(code)) return KEY_BY_CODE[code];
  return code.startsWith('BITRIX_') ? BITRIX_OTHER : 'errors.unknown';
}

export function toUserError(error: unknown): UserError {
  if (error instanceof AxiosError) {
    const body: unknown = error.response?.data;
    if (isApiError(body)) {
      const code: string = body.error;
      if (isListed(code)) return { key: KEY_BY_CODE[code], detail: WORDS_HELP.has(code) ? plainMessage(body) : null };
      const key = code.startsWith('BITRIX_') ? BITRIX_OTHER : KEY_BY_STATUS[error.response?.status ?? 0] ?? 'errors.unknown';
      return { key, detail: null };
    }
    if (!error.response) return { key: 'errors.network', detail: null };
    return { key: KEY_BY_STATUS[error.response.status] ?? 'errors.unknown', detail: null };
  }
  return { key: 'errors.unknown', detail: null };
}
