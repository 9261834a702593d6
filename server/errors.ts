/**
 * One error type per cause, each with a code a program can branch on and a message a person can act on.
 * HTTP mapping lives in one place (http/middleware/errors.ts); `cause` is non-enumerable so spreading or
 * serializing an error never carries a request config (and the credentials in it) along.
 */
export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, status = 500, details?: Record<string, unknown>, cause?: unknown) {
    super(`${code}: ${message}`);
    this.name = 'AppError';
    this.code = code;
    this.status = status;
    this.details = details;
    if (cause !== undefined) Object.defineProperty(this, 'cause', { value: cause, enumerable: false });
  }

  toJSON(): { error: string; message: string; details?: Record<string, unknown> } {
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
