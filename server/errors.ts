/**
 * One error type per cause, each with a code a program can branch on and a message a person can act on.
 * Codes come from the one list shared with the client (contract/error-codes.ts).
 * HTTP mapping lives in one place (http/middleware/errors.ts); `cause` is non-enumerable so spreading or
 * serializing an error never carries a request config (and the credentials in it) along.
 */
import type { ErrorCode } from '../contract/error-codes.js';

export type { ErrorCode } from '../contract/error-codes.js';

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, status = 500, details?: Record<string, unknown>, cause?: unknown) {
    super(`${code}: ${message}`);
    this.name = 'AppError';
    this.code = code;
    this.status = status;
    this.details = details;
    if (cause !== undefined) Object.defineProperty(this, 'cause', { value: cause, enumerable: false });
  }

  toJSON(): { error: ErrorCode; message: string; details?: Record<string, unknown> } {
    return { error: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

export const badRequest = (message: string, details?: Record<string, unknown>) =>
  new AppError('BAD_REQUEST', message, 400, details);
export const unauthorized = (message: string) => new AppError('UNAUTHORIZED', message, 401);
export const forbidden = (message: string) => new AppError('FORBIDDEN', message, 403);
export const notFound = (message: string) => new AppError('NOT_FOUND', message, 404);
export const conflict = (message: string, details?: Record<string, unknown>) =>
  new AppError('CONFLICT', message, 409, details);
