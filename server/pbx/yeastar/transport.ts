import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { Readable } from 'node:stream';
import { PbxError } from '../adapter.js';

/**
 * The only place that talks HTTP to the PBX. Every request carries a User-Agent: Yeastar refuses requests
 * without one (https://help.yeastar.com/en/p-series-software-edition/developer-guide/api-interfaces-and-events-summary.html,
 * "You MUST include a User-Agent header with every request"). Tokens travel in the query string, as the
 * API demands; the URL is therefore never logged or put in an error message.
 * Built on node:http(s) rather than fetch so that every connection goes through the SSRF-guarded `lookup`
 * (address-guard.ts) and a file streams straight from the socket.
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

export interface HttpTransportOptions {
  baseUrl: string;
  userAgent?: string;
  timeoutMs?: number;
  /** Resolves the PBX host for every connection (the SSRF guard); the system resolver when absent. */
  lookup?: LookupFunction;
  /** Largest JSON answer read (a list page of 10,000 CDR rows stays well below). */
  maxJsonBytes?: number;
}

function buildUrl(baseUrl: string, req: PbxHttpRequest): URL {
  const url = new URL(req.path.replace(/^\/+/, ''), baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
  return url;
}

/** A network failure in plain words, without the URL (it may hold the access token). */
function unreachable(err: unknown): PbxError {
  if (err instanceof PbxError) return err;
  const code = err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
  const name = err instanceof Error ? err.name : '';
  const reason = name === 'TimeoutError'
    ? 'the PBX did not answer in time'
    : code === 'ECONNREFUSED' ? 'the PBX refused the connection (wrong host or port?)'
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'the PBX host name could not be resolved'
        : code === 'ECONNRESET' ? 'the PBX closed the connection'
          : code !== undefined && /CERT|SSL|TLS|SELF_SIGNED/.test(code) ? `the PBX's TLS certificate was not accepted (${code})`
            : `the PBX could not be reached${code ? ` (${code})` : ''}`;
  return new PbxError('PBX_UNREACHABLE', reason, err);
}

class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

export function createHttpTransport(opts: HttpTransportOptions): PbxTransport {
  const userAgent = opts.userAgent?.trim() || DEFAULT_USER_AGENT;
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const maxJsonBytes = opts.maxJsonBytes ?? 64 * 1024 * 1024;
  const agentOptions = opts.lookup ? { lookup: opts.lookup } : {};
  const httpAgent = new http.Agent(agentOptions);
  const httpsAgent = new https.Agent(agentOptions);

  /** The timer bounds the wait for the answer; `done()` stops it (after the body, or at the headers for a stream). */
  function send(req: PbxHttpRequest, accept: string): Promise<{ res: IncomingMessage; done: () => void }> {
    const url = buildUrl(opts.baseUrl, req);
    const secure = url.protocol === 'https:';
    const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
    const headers: Record<string, string | number> = { 'User-Agent': userAgent, Accept: accept };
    if (payload) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = payload.length;
    }
    return new Promise((resolve, reject) => {
      const request = (secure ? https : http).request(url, { method: req.method, headers, agent: secure ? httpsAgent : httpAgent });
      const timer = setTimeout(() => request.destroy(new TimeoutError('timeout')), timeoutMs);
      const done = () => clearTimeout(timer);
      request.on('response', (res) => resolve({ res, done }));
      request.on('error', (err) => {
        done();
        reject(unreachable(err));
      });
      request.end(payload);
    });
  }

  return {
    async requestJson(req) {
      const { res, done } = await send(req, 'application/json');
      const chunks: Buffer[] = [];
      let size = 0;
      try {
        for await (const chunk of res) {
          const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
          size += buf.length;
          if (size > maxJsonBytes) throw new PbxError('PBX_BAD_RESPONSE', 'the PBX answer is too large');
          chunks.push(buf);
        }
      } catch (err) {
        res.destroy();
        throw unreachable(err);
      } finally {
        done();
      }
      let json: unknown;
      try {
        const text = Buffer.concat(chunks).toString('utf8');
        json = text === '' ? undefined : JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.statusCode ?? 0, json };
    },
    async requestStream(req) {
      const { res, done } = await send(req, '*/*');
      done();
      const length = Number(res.headers['content-length']);
      return {
        status: res.statusCode ?? 0,
        stream: res,
        contentType: res.headers['content-type'] ?? 'application/octet-stream',
        ...(Number.isFinite(length) && length > 0 ? { size: length } : {}),
      };
    },
  };
}
