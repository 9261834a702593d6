import type { NextFunction, Request, Response } from 'express';
import { ZodError } from 'zod';
import { AppError } from '../../errors.js';
import { BitrixError } from '../../bitrix/types.js';
import { PbxError } from '../../pbx/adapter.js';
import type { ApiError } from '../api/shapes.js';
import { locals } from '../context.js';

/** Body-parser and friends mark their errors with an HTTP status (`entity.too.large` 413, `entity.parse.failed` 400). */
function httpStatusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const s = (err as { status?: unknown; statusCode?: unknown }).status ?? (err as { statusCode?: unknown }).statusCode;
  return typeof s === 'number' && s >= 400 && s < 500 ? s : undefined;
}

export interface MappedError {
  status: number;
  body: ApiError;
}

/** The one place errors become HTTP answers (house style: routes throw, one handler answers). */
export function mapError(err: unknown, requestId: string): MappedError {
  if (err instanceof AppError) return { status: err.status, body: err.toJSON() };
  if (err instanceof ZodError) {
    const issues = err.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`);
    return { status: 400, body: { error: 'BAD_REQUEST', message: `invalid request: ${issues.join('; ')}` } };
  }
  if (err instanceof BitrixError) {
    if (err.code === 'PORTAL_NEEDS_REINSTALL') return { status: 409, body: { error: err.code, message: err.message } };
    if (err.code === 'PORTAL_NOT_FOUND' || err.code === 'PORTAL_UNINSTALLED') return { status: 404, body: { error: err.code, message: err.message } };
    return { status: err.retryable ? 503 : 502, body: { error: `BITRIX_${err.code}`, message: `Bitrix24 answered: ${err.message}` } };
  }
  // The PBX failed or was refused (e.g. a recording that is not audio, a download path off the PBX): a bad gateway.
  if (err instanceof PbxError) return { status: 502, body: { error: err.code, message: `the PBX: ${err.message.replace(/^[A-Z0-9_]+: /, '')}` } };
  const status = httpStatusOf(err);
  if (status !== undefined) {
    const message = status === 413 ? 'request body too large' : 'malformed request body';
    return { status, body: { error: status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST', message } };
  }
  return { status: 500, body: { error: 'INTERNAL', message: `internal error (request id ${requestId})` } };
}

export function errorHandler() {
  return (err: unknown, _req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const { log, requestId } = locals(res);
    const mapped = mapError(err, requestId);
    if (mapped.status >= 500) log.error({ err }, 'request failed');
    else log.info({ error: mapped.body.error, status: mapped.status }, 'request refused');
    res.status(mapped.status).json(mapped.body);
  };
}
