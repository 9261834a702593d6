import { AxiosError, AxiosHeaders, type AxiosAdapter, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';
import { createApi, createHttp, type Api, type AuthSource } from '../../client/api.js';
import type { FrameAuth } from '../../client/frame.js';

export interface SeenRequest {
  method: string;
  url: string;
  params: Record<string, unknown>;
  body: unknown;
  headers: Record<string, string>;
}

export type Reply = { status: number; body: unknown } | ((request: SeenRequest) => { status: number; body: unknown });

/**
 * An /api stand-in at the HTTP transport: the real axios client, interceptors and error mapping run; only the
 * network is replaced. Routes are "METHOD /path" (path without /api); unknown routes answer 404.
 */
export function fakeApi(routes: Record<string, Reply | Reply[]>, auth?: Partial<AuthSource>) {
  const seen: SeenRequest[] = [];
  const queues = new Map<string, Reply[]>(Object.entries(routes).map(([key, reply]) => [key, Array.isArray(reply) ? [...reply] : [reply]]));

  const adapter: AxiosAdapter = async (config: InternalAxiosRequestConfig) => {
    const url = (config.url ?? '').replace(/^\/api/, '');
    const request: SeenRequest = {
      method: (config.method ?? 'get').toUpperCase(),
      url,
      params: (config.params ?? {}) as Record<string, unknown>,
      body: typeof config.data === 'string' ? JSON.parse(config.data) : config.data,
      headers: Object.fromEntries(Object.entries(AxiosHeaders.from(config.headers).toJSON()).map(([k, v]) => [k.toLowerCase(), String(v)])),
    };
    seen.push(request);
    const queue = queues.get(`${request.method} ${url}`);
    const reply = queue && queue.length > 1 ? queue.shift() : queue?.[0];
    const answer = !reply ? { status: 404, body: { error: 'NOT_FOUND', message: 'no such route' } } : typeof reply === 'function' ? reply(request) : reply;
    const response: AxiosResponse = { data: answer.body, status: answer.status, statusText: String(answer.status), headers: {}, config };
    if (answer.status >= 400) {
      throw new AxiosError(`HTTP ${answer.status}`, String(answer.status), config, null, response);
    }
    return response;
  };

  let token: FrameAuth = { accessToken: 'frame-token-1', memberId: 'member-1' };
  const source: AuthSource = {
    auth: auth?.auth ?? (() => token),
    refreshAuth:
      auth?.refreshAuth ??
      (async () => {
        token = { accessToken: `frame-token-${Number(token.accessToken.split('-').pop()) + 1}`, memberId: token.memberId };
        return token;
      }),
  };
  const api: Api = createApi(createHttp(source, '/api', adapter));
  return { api, seen, source };
}

export function ok(body: unknown): { status: number; body: unknown } {
  return { status: 200, body };
}

export function fail(status: number, error: string, message: string): { status: number; body: unknown } {
  return { status, body: { error, message: `${error}: ${message}` } };
}
