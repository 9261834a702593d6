import { AjaxError, SdkError } from '@bitrix24/b24jssdk';
import { BitrixError } from './types.js';

/**
 * Bitrix24 answers that a later attempt may cure. Reference §1.6 / limits.md:
 * QUERY_LIMIT_EXCEEDED (503) and OPERATION_TIME_LIMIT (429) clear with time; 5xx and transport errors are transient.
 * https://apidocs.bitrix24.com/limits.html
 */
const RETRYABLE_CODES = new Set([
  'QUERY_LIMIT_EXCEEDED', 'OPERATION_TIME_LIMIT', 'NETWORK_ERROR', 'REQUEST_TIMEOUT', 'INTERNAL_SERVER_ERROR',
  'ERROR_UNEXPECTED_ANSWER', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ERR_NETWORK', 'ECONNABORTED', 'EPIPE',
  'expired_token',
]);

/** Codes that are not Bitrix24's but describe a failed transport (axios/node). */
const TRANSPORT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ERR_NETWORK', 'ECONNABORTED', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

export function isRetryable(code: string, status: number): boolean {
  if (RETRYABLE_CODES.has(code)) return true;
  if (TRANSPORT_CODES.has(code)) return true;
  return status >= 500 || status === 0 && code !== 'PORTAL_NEEDS_REINSTALL' && code !== 'JSSDK_UNKNOWN_ERROR';
}

export function bitrixError(code: string, description: string, status: number): BitrixError {
  return new BitrixError(code, description, status, isRetryable(code, status));
}

function innerCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Turns whatever the SDK or the transport threw into one BitrixError. The SDK wraps errors thrown by our own
 * refresh callback in an AjaxError `JSSDK_UNKNOWN_ERROR` whose non-enumerable `originalError` keeps ours: unwrap it,
 * so PORTAL_NEEDS_REINSTALL and a failed OAuth server surface with their own code.
 */
export function toBitrixError(err: unknown): BitrixError {
  if (err instanceof BitrixError) return err;
  if (err instanceof SdkError) {
    const original: unknown = err.originalError;
    if (original instanceof BitrixError) return original;
    const status = err.status;
    if (err.code === 'JSSDK_UNKNOWN_ERROR' || err.code.startsWith('JSSDK_')) {
      const transport = innerCode(original);
      if (transport && TRANSPORT_CODES.has(transport)) return bitrixError('NETWORK_ERROR', err.message, 0);
      return new BitrixError(err.code, err.message, status, false);
    }
    if (err instanceof AjaxError && (err.code === 'NETWORK_ERROR' || err.code === 'REQUEST_TIMEOUT')) {
      return bitrixError(err.code, err.message, 0);
    }
    return bitrixError(err.code, err.message, status);
  }
  if (err instanceof Error) {
    const code = innerCode(err);
    if (code && TRANSPORT_CODES.has(code)) return bitrixError('NETWORK_ERROR', err.message, 0);
    return new BitrixError('UNEXPECTED', err.message, 0, false);
  }
  return new BitrixError('UNEXPECTED', String(err), 0, false);
}

/** An error carried inside a 200 answer (`{error, error_description}`), e.g. a batch sub-command. */
export function answerError(error: unknown, description: unknown, status = 400): BitrixError {
  const code = typeof error === 'string' && error ? error : 'ERROR_CORE';
  const text = typeof description === 'string' ? description : '';
  return bitrixError(code, text || code, status);
}
