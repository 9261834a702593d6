import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { GuardedAgents } from '../../net/guarded-http.js';
import { PbxError } from '../adapter.js';

/**
 * The only place that talks HTTP to the PBX. Every request carries a User-Agent: Yeastar refuses requests
 * without one (https://help.yeastar.com/en/p-series-software-edition/developer-guide/api-interfaces-and-events-summary.html,
 * "You MUST include a User-Agent header with every request"). Tokens travel in the query string, as the
 * API demands; the URL is therefore never logged or put in an error message.
 * Built on node:http(s) rather than fetch so that every connection goes through the SSRF-guarded agents
 * (net/guarded-http.ts: the address policy at connect time, IP literals included) and a file streams straight from
 * the socket. node:http never follows a redirect: a 3xx answer is just an answer (an error for the callers).
 * Every URL is built by `pbxUrl`, which keeps it on the PBX's own origin whatever path the PBX handed us.
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
  /** Agents that apply the address policy on every connection (the SSRF guard); Node's defaults when absent. */
  agents?: GuardedAgents;
  /** Asked before every request, on a new or a kept-alive socket: an error refuses it (address-policy.ts refuseConnect). */
  refuse?: () => Error | undefined;
  /** Largest JSON answer read. */
  maxJsonBytes?: number;
  /** Largest file streamed (a recording). */
  maxStreamBytes?: number;
}

/**
 * 8 MB: the largest page we ask for (1,000 CDR rows of ~0.5 kB, 500 extensions) is well under 1 MB, and one PBX
 * must not make the process hold hundreds of MB per request.
 */
export const DEFAULT_MAX_JSON_BYTES = 8 * 1024 * 1024;
/**
 * 200 MB: about 3.5 hours of the PBX's 8 kHz 16-bit mono WAV (16 kB/s), the longest call the CDR recovery looks for
 * (4 h) in the recording format Yeastar writes by default; an mp3 of the same call is ten times smaller. The same cap
 * as the recording attacher's (calls/recording.ts maxBytes).
 */
export const DEFAULT_MAX_STREAM_BYTES = 200 * 1024 * 1024;

/** An ASCII control character, DEL, or a backslash (which WHATWG URL parsing reads as `/` in http(s) URLs). */
// eslint-disable-next-line no-control-regex
const UNSAFE_PATH_CHARS = /[\u0000-\u001f\u007f\\]/;

/**
 * The one place a URL to the PBX is made, from the configured base URL and a path, whether ours
 * (`/openapi/v1.0/get_token`) or the PBX's own (a recording's `download_resource_url`). The result always stays on
 * the base URL's origin: a PBX answering `//169.254.169.254/…`, `/\\127.0.0.1:8080/…` (a backslash counts as a
 * slash), `http://elsewhere/…` or a path with control characters (tab and newline are dropped by the URL parser,
 * so `/\t/host` would become `//host`) would otherwise make us call another host with the PBX's access token.
 * Refused with PBX_URL_REFUSED; the path itself is not put in the message (it may carry a signed link).
 */
export function pbxUrl(baseUrl: string, path: string, query?: PbxHttpRequest['query']): URL {
  const refuse = (why: string) => new PbxError('PBX_URL_REFUSED', `a path from the PBX was refused: ${why}; only paths on the PBX's own address are followed`);
  if (!path.startsWith('/')) throw refuse('it is not a path starting with /');
  if (path.startsWith('//')) throw refuse('it starts with // (another host)');
  if (UNSAFE_PATH_CHARS.test(path)) throw refuse('it holds a backslash or a control character');
  const base = new URL(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  // './' keeps a first segment with a colon (`/x:y`) a path, and the base URL's own path prefix applies.
  const url = new URL(`./${path.slice(1)}`, base);
  if (url.origin !== base.origin) throw refuse('it leads to another host');
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
  return url;
}

/** Passes at most `maxBytes` through; more fails the stream with PBX_FILE_TOO_LARGE. */
function capped(maxBytes: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      seen += chunk.length;
      if (seen > maxBytes) done(new PbxError('PBX_FILE_TOO_LARGE', `the file from the PBX is larger than ${maxBytes} bytes`));
      else done(null, chunk);
    },
  });
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
  const maxJsonBytes = opts.maxJsonBytes ?? DEFAULT_MAX_JSON_BYTES;
  const maxStreamBytes = opts.maxStreamBytes ?? DEFAULT_MAX_STREAM_BYTES;
  const httpAgent = opts.agents?.http ?? new http.Agent();
  const httpsAgent = opts.agents?.https ?? new https.Agent();

  /** The timer bounds the wait for the answer; `done()` stops it (after the body, or at the headers for a stream). */
  function send(req: PbxHttpRequest, accept: string): Promise<{ res: IncomingMessage; done: () => void }> {
    const refused = opts.refuse?.();
    if (refused) return Promise.reject(refused);
    let url: URL;
    try {
      url = pbxUrl(opts.baseUrl, req.path, req.query);
    } catch (err) {
      return Promise.reject(err instanceof PbxError ? err : unreachable(err));
    }
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
        if (Number(res.headers['content-length']) > maxJsonBytes) throw new PbxError('PBX_BAD_RESPONSE', `the PBX answer is larger than ${maxJsonBytes} bytes`);
        for await (const chunk of res) {
          const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
          size += buf.length;
          if (size > maxJsonBytes) throw new PbxError('PBX_BAD_RESPONSE', `the PBX answer is larger than ${maxJsonBytes} bytes`);
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
      if (Number.isFinite(length) && length > maxStreamBytes) {
        res.destroy();
        throw new PbxError('PBX_FILE_TOO_LARGE', `the file from the PBX is ${length} bytes, more than the ${maxStreamBytes} accepted`);
      }
      // Streamed, never held whole: the cap holds when the PBX sent no length (chunked) too.
      const stream = res.pipe(capped(maxStreamBytes));
      res.on('error', (err) => stream.destroy(err));
      stream.on('close', () => res.destroy());
      return {
        status: res.statusCode ?? 0,
        stream,
        contentType: res.headers['content-type'] ?? 'application/octet-stream',
        ...(Number.isFinite(length) && length > 0 ? { size: length } : {}),
      };
    },
  };
}
