import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { PbxError } from '../adapter.js';

/**
 * The only place that talks HTTP to the PBX. Every request carries a User-Agent: Yeastar refuses requests
 * without one (https://help.yeastar.com/en/p-series-software-edition/developer-guide/api-interfaces-and-events-summary.html,
 * "You MUST include a User-Agent header with every request"). Tokens travel in the query string, as the
 * API demands; the URL is therefore never logged or put in an error message.
 */

export const DEFAULT_USER_AGENT = 'OpenAPI b24-yeastar-connector/0.1';

export interface PbxHttpRequest {
  method: 'GET' | 'POST';
  /** Path below the base URL, e.g. `/openapi/v1.0/get_token`. */
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
}

export interface PbxHttpResponse {
  status: number;
  json: unknown;
}

export interface PbxStreamResponse {
  status: number;
  stream: Readable;
  contentType: string;
  size?: number;
}

export interface PbxTransport {
  requestJson(req: PbxHttpRequest): Promise<PbxHttpResponse>;
  requestStream(req: PbxHttpRequest): Promise<PbxStreamResponse>;
}

export interface FetchTransportOptions {
  baseUrl: string;
  userAgent?: string;
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
}

function buildUrl(baseUrl: string, req: PbxHttpRequest): string {
  const url = new URL(req.path.replace(/^\/+/, ''), baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
  return url.toString();
}

/** A network failure in plain words, without the URL (it may hold the access token). */
function unreachable(err: unknown): PbxError {
  const cause = err instanceof Error && 'cause' in err && err.cause instanceof Error ? err.cause : err;
  const code = cause instanceof Error && 'code' in cause && typeof cause.code === 'string' ? cause.code : undefined;
  const name = err instanceof Error ? err.name : '';
  const reason = name === 'TimeoutError' || name === 'AbortError'
    ? 'the PBX did not answer in time'
    : code === 'ECONNREFUSED' ? 'the PBX refused the connection (wrong host or port?)'
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'the PBX host name could not be resolved'
        : code !== undefined && /CERT|SSL|TLS/.test(code) ? `the PBX's TLS certificate was not accepted (${code})`
          : `the PBX could not be reached${code ? ` (${code})` : ''}`;
  return new PbxError('PBX_UNREACHABLE', reason, err);
}

export function createFetchTransport(opts: FetchTransportOptions): PbxTransport {
  const userAgent = opts.userAgent ?? DEFAULT_USER_AGENT;
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const doFetch = opts.fetchImpl ?? fetch;

  /** The timer bounds the wait for the answer; `done()` stops it (after the body, or at the headers for a stream). */
  async function send(req: PbxHttpRequest, accept: string): Promise<{ res: Response; done: () => void }> {
    const headers: Record<string, string> = { 'User-Agent': userAgent, Accept: accept };
    if (req.body !== undefined) headers['Content-Type'] = 'application/json';
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new DOMException('timeout', 'TimeoutError')), timeoutMs);
    const done = () => clearTimeout(timer);
    try {
      const res = await doFetch(buildUrl(opts.baseUrl, req), {
        method: req.method,
        headers,
        body: req.body === undefined ? undefined : JSON.stringify(req.body),
        redirect: 'error',
        signal: controller.signal,
      });
      return { res, done };
    } catch (err) {
      done();
      throw unreachable(controller.signal.aborted ? controller.signal.reason : err);
    }
  }

  return {
    async requestJson(req) {
      const { res, done } = await send(req, 'application/json');
      let text: string;
      try {
        text = await res.text();
      } catch (err) {
        throw unreachable(err);
      } finally {
        done();
      }
      let json: unknown;
      try {
        json = text === '' ? undefined : JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, json };
    },
    async requestStream(req) {
      const { res, done } = await send(req, '*/*');
      done();
      const length = Number(res.headers.get('content-length'));
      if (!res.body) throw new PbxError('PBX_BAD_RESPONSE', `the PBX sent no file (HTTP ${res.status})`);
      return {
        status: res.status,
        stream: Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>),
        contentType: res.headers.get('content-type') ?? 'application/octet-stream',
        ...(Number.isFinite(length) && length > 0 ? { size: length } : {}),
      };
    },
  };
}
