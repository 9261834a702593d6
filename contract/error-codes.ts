/**
 * Every error code the server sends to the Vue client, in one typed list shared by both sides (issue 12 point 3).
 * The server's AppError and PbxError take only these codes, and the HTTP error body (`ApiError.error`) is typed with
 * them, so a new code fails typecheck until it is listed here; the client's message map is a `Record<ErrorCode, …>`,
 * so a listed code without a message fails typecheck there too.
 *
 * Bitrix24's own error codes are open-ended (its REST answers `error: "<CODE>"`), and the error handler forwards them
 * as `BITRIX_<CODE>` (server/http/middleware/errors.ts): the ones the app meets are listed; any other falls under
 * `BitrixPassThroughCode`, for which the client has one generic message.
 */

/** Failures of the PBX and its API (PbxError in server/pbx/adapter.ts; envelope codes in pbx/yeastar/envelope.ts). */
export const PBX_ERROR_CODES = [
  'PBX_AUTH_FAILED',
  'PBX_ACCESS_DENIED',
  'PBX_ADDRESS_REFUSED',
  'PBX_BAD_REQUEST',
  'PBX_BAD_RESPONSE',
  'PBX_CLOSED',
  'PBX_DUPLICATE',
  'PBX_ERROR',
  'PBX_FILE_TOO_LARGE',
  'PBX_HTTP_ERROR',
  'PBX_IP_FORBIDDEN',
  'PBX_NOT_A_RECORDING',
  'PBX_NOT_ANSWERING',
  'PBX_NOT_FOUND',
  'PBX_NO_SUCH_API',
  'PBX_TOKEN_EXPIRED',
  'PBX_TOKEN_LIMIT',
  'PBX_UNREACHABLE',
  'PBX_URL_REFUSED',
] as const;

export const ERROR_CODES = [
  ...PBX_ERROR_CODES,
  // requests
  'BAD_REQUEST',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'TOO_MANY_REQUESTS',
  'INTERNAL',
  // the PBX connection as the app keeps it
  'PBX_NOT_CONNECTED',
  'PBX_UNAVAILABLE',
  'SECRET_REQUIRED',
  'PHONEBOOK_NOT_EMPTY',
  'CONTACT_SYNC_OFF',
  // the portal and Bitrix24
  'PORTAL_NEEDS_REINSTALL',
  'PORTAL_NOT_FOUND',
  'PORTAL_UNINSTALLED',
  'PORTAL_ADDRESS_REFUSED',
  'PORTAL_FENCED',
  'INSTALL_SETUP_FAILED',
  'OAUTH_SERVER_UNREACHABLE',
  'BITRIX_UNAVAILABLE',
  'BITRIX_ACCESS_DENIED',
  'BITRIX_QUERY_LIMIT_EXCEEDED',
  // the outbox (failed Bitrix24 writes)
  'OUTBOX_NOT_IDLE',
  'OUTBOX_NOT_PARKED',
  // the server's own storage and keys
  'STORE_CORRUPT',
  'STORE_UNAVAILABLE',
  'STORE_WRITE_FAILED',
  'SECRET_UNREADABLE',
  'SECRET_KEY_INVALID',
  'SECRET_KEY_MISMATCH',
  'SECRET_KEY_UNAVAILABLE',
  'DATA_DIR_LOCKED',
  'DATA_DIR_UNAVAILABLE',
  'CLIENT_NOT_BUILT',
  // the PostgreSQL store (DATABASE_URL)
  'STORE_SCHEMA_NEWER',
  'MIGRATION_INVALID',
  'PORTAL_LEASE_LOST',
  // several instances on one database: live work handed to the portal's owner (server/cluster/portal-work.ts)
  'PORTAL_OWNER_UNREACHABLE',
] as const;

export type PbxErrorCode = (typeof PBX_ERROR_CODES)[number];
export type ErrorCode = (typeof ERROR_CODES)[number];
/** A Bitrix24 REST error not listed above, forwarded as `BITRIX_<its code>`. */
export type BitrixPassThroughCode = `BITRIX_${string}`;
/** What `ApiError.error` may hold. */
export type ApiErrorCode = ErrorCode | BitrixPassThroughCode;

const KNOWN: ReadonlySet<string> = new Set(ERROR_CODES);

export function isErrorCode(value: string): value is ErrorCode {
  return KNOWN.has(value);
}
