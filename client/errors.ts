import { AxiosError } from 'axios';
import type { ApiError } from '../contract/api-shapes.js';

/** A user-facing error: an i18n key (errors.*) and, when the server gave one, its own plain-words message. */
export interface UserError {
  key: string;
  detail: string | null;
}

// The one place where API error codes (server/errors.ts AppError codes) become messages people read.
const KEY_BY_CODE: Record<string, string> = {
  BAD_REQUEST: 'errors.badRequest',
  VALIDATION_FAILED: 'errors.badRequest',
  UNAUTHORIZED: 'errors.unauthorized',
  FORBIDDEN: 'errors.forbidden',
  NOT_ADMIN: 'errors.forbidden',
  NOT_FOUND: 'errors.notFound',
  CONFLICT: 'errors.conflict',
  PORTAL_NOT_FOUND: 'errors.portalNotFound',
  NEEDS_REINSTALL: 'errors.needsReinstall',
  PBX_NOT_CONFIGURED: 'errors.pbxNotConfigured',
  PBX_AUTH_FAILED: 'errors.pbxAuthFailed',
  PBX_UNREACHABLE: 'errors.pbxUnreachable',
  PBX_ERROR: 'errors.pbxError',
  PHONEBOOK_NOT_EMPTY: 'errors.phonebookNotEmpty',
  BITRIX_ERROR: 'errors.bitrixError',
  RATE_LIMITED: 'errors.rateLimited',
};

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

// AppError messages carry their code as a prefix ("PBX_AUTH_FAILED: the PBX refused …"); people need only the words.
function plainMessage(body: ApiError): string | null {
  const prefix = `${body.error}: `;
  const text = body.message.startsWith(prefix) ? body.message.slice(prefix.length) : body.message;
  return text.trim() === '' ? null : text;
}

export function toUserError(error: unknown): UserError {
  if (error instanceof AxiosError) {
    const body: unknown = error.response?.data;
    if (isApiError(body)) {
      const key = KEY_BY_CODE[body.error] ?? KEY_BY_STATUS[error.response?.status ?? 0] ?? 'errors.unknown';
      return { key, detail: plainMessage(body) };
    }
    if (!error.response) return { key: 'errors.network', detail: null };
    return { key: KEY_BY_STATUS[error.response.status] ?? 'errors.unknown', detail: null };
  }
  return { key: 'errors.unknown', detail: null };
}
