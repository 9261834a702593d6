import { YeastarEmulatorServer } from '../../../emulators/yeastar/server.js';
import type { EmulatorOptions } from '../../../emulators/yeastar/types.js';

/** A tiny raw client for the emulator tests: exactly what goes on the wire, no retries, no token handling. */

export interface Pbx {
  emu: YeastarEmulatorServer;
  url: string;
  api(endpoint: string, opts?: { method?: 'GET' | 'POST'; body?: unknown; token?: string; query?: Record<string, string>; userAgent?: string | null; headers?: Record<string, string> }): Promise<Record<string, unknown>>;
  login(): Promise<string>;
  close(): Promise<void>;
}

export async function startPbx(options: Partial<EmulatorOptions> = {}): Promise<Pbx> {
  const { emulator, url } = await YeastarEmulatorServer.start(options);
  const api: Pbx['api'] = async (endpoint, opts = {}) => {
    const q = new URLSearchParams(opts.query ?? {});
    if (opts.token) q.set('access_token', opts.token);
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.userAgent !== null) headers['User-Agent'] = opts.userAgent ?? 'OpenAPI';
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(`${url}/openapi/v1.0/${endpoint}${q.size > 0 ? `?${q.toString()}` : ''}`, {
      method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'),
      headers,
      ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
    });
    return (await res.json()) as Record<string, unknown>;
  };
  const login = async (): Promise<string> => {
    const answer = await api('get_token', { body: { username: emulator.state.options.clientId, password: emulator.state.options.clientSecret } });
    if (answer.errcode !== 0 || typeof answer.access_token !== 'string') throw new Error(`login failed: ${JSON.stringify(answer)}`);
    return answer.access_token;
  };
  return { emu: emulator, url, api, login, close: () => emulator.close() };
}

/** Node's fetch always sends a User-Agent; the missing-UA case needs a raw request. */
export async function requestWithoutUserAgent(url: string): Promise<Record<string, unknown>> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => {
        text += d.toString();
      });
      res.on('end', () => resolve(JSON.parse(text) as Record<string, unknown>));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ username: 'x', password: 'y' }));
  });
}
