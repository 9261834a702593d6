import type { NextFunction, Request, Response } from 'express';
import { ZodError } from 'zod';
import { AppError } from '../../errors.js';
import { BitrixError } from '../../bitrix/types.js';
import { PbxError } from '../../pbx/adapter.js';
import type { ApiError } from '../../../contract/api-shapes.js';
import { locals } from '../context.js';

/** Body-parser and friends mark their errors with an HTTP status (`entity.too.large` 413, `entity.parse.failed` 400). */
function httpStatusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const s = (err as { status?: unknown; statusCode?: unknown }).status ?? (err as { statusCode?: unknown }).statusCode;
  return typeof s === 'number' && s >= 400 && s < 500 ? s : undefined;
}

/** body-parser's `entity.too.large` carries the route's limit in bytes. */
function limitOf(err: unknown): number | undefined {
  const limit = typeof err === 'object' && err !== null ? (err as { limit?: unknown }).limit : undefined;
  return typeof limit === 'number' && Number.isFinite(limit) ? limit : undefined;
}

/**
 * Absolute file paths (POSIX `/a/b`, Windows `C:\a\b`) where a message names a file: a store error names the file
 * under DATA_DIR, a missing build names dist/. The answer keeps the file's name (`…/settings.json`), never where the
 * server keeps it: the host's layout is no business of a portal's users. The log keeps the full error.
 */
const ABSOLUTE_PATH = /(^|[\s'"(=:,[])(?:\/(?!\/)|[A-Za-z]:\\)(?:[^\s'"()<>:,;[\]\\/]+[\\/])*([^\s'"()<>:,;[\]\\/]*)/g;

export function withoutPaths(text: string): string {
  return text.replace(ABSOLUTE_PATH, (_m, lead: string, base: string) => `${lead}…/${base}`);
}

function scrub(value: unknown): unknown {
  if (typeof value === 'string') return withoutPaths(value);
  if (Array.isArray(value)) return value.map(scrub);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v)]));
  return value;
}

export interface MappedError {
  status: number;
  body: ApiError;
}

/** The one place errors become HTTP answers (house style: routes throw, one handler answers); no answer names a path. */
export function mapError(err: unknown, requestId: string): MappedError {
  const mapped = mapErrorAsIs(err, requestId);
  return { status: mapped.status, body: scrub(mapped.body) as ApiError };
}

function mapErrorAsIs(err: unknown, requestId: string): MappedError {
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
    const limit = limitOf(err);
    const message = status !== 413 ? 'malformed request body'
      : `request body too large${limit !== undefined ? `: this endpoint takes at most ${limit} bytes` : ''}`;
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
