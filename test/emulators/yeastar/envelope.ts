import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The PBX answers HTTP 200 for success and for application errors alike; the `errcode` says which
 * (https://help.yeastar.com/en/p-series-appliance-edition/developer-guide/response-result.html).
 */

export interface RestContext {
  req: IncomingMessage;
  method: string;
  path: string;
  query: URLSearchParams;
  body: Record<string, unknown>;
  ip: string;
}

export type RestAnswer = Record<string, unknown> & { errcode: number; errmsg: string };

export function success(payload: Record<string, unknown> = {}): RestAnswer {
  return { errcode: 0, errmsg: 'SUCCESS', ...payload };
}

export type InvalidParam = { field: string; validation_type?: string; value?: string };

export const errors = {
  /** Wrong client id/secret on get_token (Response Result page example). */
  failure: (list: InvalidParam[]): RestAnswer => ({ errcode: -1, errmsg: 'FAILURE', invalid_param_list: list }),
  /** Path or method unknown to the PBX (community probes: milaportal api-probe-results.md). */
  interfaceNotExisted: (): RestAnswer => ({ errcode: 10001, errmsg: 'INTERFACE NOT EXISTED' }),
  /** Missing, unknown, revoked or expired access token. UNCONFIRMED code (community "quirks" note), consistent across clients. */
  tokenExpired: (): RestAnswer => ({ errcode: 10004, errmsg: 'TOKEN EXPIRED' }),
  /** Response Result page: `invalid_param_list:[{"field":"name","validation_type":"required"}]`. */
  parameter: (list?: InvalidParam[]): RestAnswer =>
    list ? { errcode: 40002, errmsg: 'PARAMETER ERROR', invalid_param_list: list } : { errcode: 40002, errmsg: 'PARAMETER ERROR' },
  duplicate: (field: string, value: string): RestAnswer => ({
    errcode: 40003, errmsg: 'DUPLICATE KEY VALUE', submsg: `${field} already exists`,
    duplicate_field_list: [{ field, value, external_source: '', external_source_name: '' }],
  }),
  notFound: (): RestAnswer => ({ errcode: 60001, errmsg: 'DATA NOT FOUND' }),
  maxLimitation: (): RestAnswer => ({ errcode: 60002, errmsg: 'MAX LIMITATION EXCEEDED' }),
  /**
   * Login refused because the IP is blocked after repeated failures. The P-Series code is UNCONFIRMED (no doc page found with the
   * search tool); 70087 IP FORBIDDEN is the code a community client maps to refused client IPs (reference §6.2).
   */
  ipForbidden: (): RestAnswer => ({ errcode: 70087, errmsg: 'IP FORBIDDEN' }),
};

export function sendJson(res: ServerResponse, body: unknown, status = 200): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export async function readRawBody(req: IncomingMessage, limit = 5 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buf.length;
    if (size > limit) throw new Error('body too large');
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function str(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return undefined;
}

export function intParam(query: URLSearchParams, name: string, fallback: number): number | 'invalid' {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  const n = Number(raw);
  return Number.isInteger(n) && n >= 0 ? n : 'invalid';
}

/** page (1-based) + page_size, as every list endpoint takes them. */
export function paginate<T>(rows: T[], query: URLSearchParams, maxPageSize: number): { page: T[]; total: number } | RestAnswer {
  const page = intParam(query, 'page', 1);
  const size = intParam(query, 'page_size', Math.min(maxPageSize, 10_000));
  if (page === 'invalid' || page < 1) return errors.parameter([{ field: 'page', validation_type: 'invalid' }]);
  if (size === 'invalid' || size < 1 || size > maxPageSize) return errors.parameter([{ field: 'page_size', validation_type: 'invalid' }]);
  const start = (page - 1) * size;
  return { page: rows.slice(start, start + size), total: rows.length };
}

export function isAnswer(value: unknown): value is RestAnswer {
  return isRecord(value) && typeof value.errcode === 'number';
}
