import { PbxError } from '../adapter.js';
import { unwrapEnvelope, type Envelope } from './envelope.js';
import type { TokenManager } from './tokens.js';
import type { PbxHttpRequest, PbxStreamResponse, PbxTransport } from './transport.js';

/**
 * Authenticated REST calls to the PBX: the token goes in the `access_token` query parameter (Yeastar ignores
 * an Authorization header, reference §1), `{errcode, errmsg}` on HTTP 200 becomes a PbxError, and
 * `10004 TOKEN EXPIRED` renews the token once and retries.
 */

export const API_PATH = '/openapi/v1.0';

export interface YeastarRest {
  get(endpoint: string, query: Record<string, string | number | undefined>, what: string): Promise<Envelope>;
  post(endpoint: string, body: unknown, what: string): Promise<Envelope>;
  /** Reads every page of a list endpoint (`page`, `page_size`, `total_number`, `data[]`, reference §5.4). */
  listAll(endpoint: string, query: Record<string, string | number | undefined>, what: string, opts?: { pageSize?: number; maxRows?: number }): Promise<unknown[]>;
  /** GET of a file below the base URL (e.g. a recording's download_resource_url), streamed. */
  stream(path: string, what: string): Promise<PbxStreamResponse>;
}

export function createYeastarRest(transport: PbxTransport, tokens: TokenManager): YeastarRest {
  async function call(req: Omit<PbxHttpRequest, 'query'> & { query?: PbxHttpRequest['query'] }, what: string): Promise<Envelope> {
    for (let attempt = 0; ; attempt += 1) {
      const token = await tokens.getToken();
      const res = await transport.requestJson({ ...req, query: { ...req.query, access_token: token } });
      try {
        return unwrapEnvelope(res.status, res.json, what);
      } catch (err) {
        if (err instanceof PbxError && err.code === 'PBX_TOKEN_EXPIRED' && attempt === 0) {
          tokens.invalidate(token);
          continue;
        }
        throw err;
      }
    }
  }

  return {
    get: (endpoint, query, what) => call({ method: 'GET', path: `${API_PATH}/${endpoint}`, query }, what),
    post: (endpoint, body, what) => call({ method: 'POST', path: `${API_PATH}/${endpoint}`, body }, what),
    async listAll(endpoint, query, what, opts) {
      const pageSize = opts?.pageSize ?? 500;
      const maxRows = opts?.maxRows ?? 100_000;
      const rows: unknown[] = [];
      for (let page = 1; ; page += 1) {
        let env: Envelope;
        try {
          env = await call({ method: 'GET', path: `${API_PATH}/${endpoint}`, query: { ...query, page, page_size: pageSize } }, what);
        } catch (err) {
          // 60001 DATA NOT FOUND is how some lists say "empty" (reference §6.2): not an error.
          if (err instanceof PbxError && err.code === 'PBX_NOT_FOUND') break;
          throw err;
        }
        const data = Array.isArray(env['data']) ? (env['data'] as unknown[]) : [];
        rows.push(...data);
        const total = Number(env['total_number']);
        if (data.length < pageSize || (Number.isFinite(total) && rows.length >= total) || rows.length >= maxRows) break;
      }
      return rows;
    },
    async stream(path, what) {
      for (let attempt = 0; ; attempt += 1) {
        const token = await tokens.getToken();
        try {
          return await streamWithToken(transport, path, token, what);
        } catch (err) {
          if (err instanceof PbxError && err.code === 'PBX_TOKEN_EXPIRED' && attempt === 0) {
            tokens.invalidate(token);
            continue;
          }
          throw err;
        }
      }
    },
  };
}

/**
 * GET of a file below the base URL with the given access token, streamed: a 2xx that is not JSON is the file; an
 * error comes back as a small JSON envelope (or an HTTP error page), read and thrown as a PbxError (PBX_TOKEN_EXPIRED
 * included, for the caller to decide). Also used with a token another instance granted (granted-download.ts).
 */
export async function streamWithToken(transport: PbxTransport, path: string, token: string, what: string): Promise<PbxStreamResponse> {
  const res = await transport.requestStream({ method: 'GET', path, query: { access_token: token } });
  const type = res.contentType.toLowerCase();
  if (res.status >= 200 && res.status < 300 && !type.includes('json')) return res;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.stream) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    size += buf.length;
    if (size > 64 * 1024) break;
    chunks.push(buf);
  }
  res.stream.destroy();
  let json: unknown;
  try {
    json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    json = undefined;
  }
  unwrapEnvelope(res.status, json, what);
  throw new PbxError('PBX_BAD_RESPONSE', `${what}: the PBX sent no file`);
}
