import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { PbxError } from '../../../server/pbx/adapter.js';
import { unwrapEnvelope } from '../../../server/pbx/yeastar/envelope.js';
import { createYeastarRest } from '../../../server/pbx/yeastar/rest.js';
import { createTokenManager } from '../../../server/pbx/yeastar/tokens.js';
import { fakeTransport, tokenReply } from './fake-transport.js';

const log = pino({ level: 'silent' });

function client(handlers: Parameters<typeof fakeTransport>[0]) {
  let n = 0;
  const t = fakeTransport({ '/openapi/v1.0/get_token': () => tokenReply(++n), ...handlers });
  const tokens = createTokenManager({ transport: t, clientId: 'id', clientSecret: 's', log });
  return { t, rest: createYeastarRest(t, tokens) };
}

describe('Yeastar REST envelope', () => {
  it.each([
    [-1, 'FAILURE', 'PBX_AUTH_FAILED'],
    [10001, 'INTERFACE NOT EXISTED', 'PBX_NO_SUCH_API'],
    [10004, 'TOKEN EXPIRED', 'PBX_TOKEN_EXPIRED'],
    [40002, 'PARAMETER ERROR', 'PBX_BAD_REQUEST'],
    [40003, 'DUPLICATE KEY VALUE', 'PBX_DUPLICATE'],
    [60002, 'MAX LIMITATION EXCEEDED', 'PBX_TOKEN_LIMIT'],
    [70087, 'IP FORBIDDEN', 'PBX_IP_FORBIDDEN'],
    [12345, 'SOMETHING ODD', 'PBX_ERROR'],
  ])('errcode %i becomes %s with the PBX words kept', (errcode, errmsg, code) => {
    const err = (() => {
      try {
        unwrapEnvelope(200, { errcode, errmsg }, 'doing it');
        return undefined;
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(PbxError);
    expect((err as PbxError).code).toBe(code);
    expect((err as PbxError).message).toContain(errmsg);
    expect((err as PbxError).message).toContain('doing it');
  });

  it('HTTP errors and non-Yeastar bodies are readable errors', () => {
    expect(() => unwrapEnvelope(502, undefined, 'x')).toThrow(/HTTP 502/);
    expect(() => unwrapEnvelope(200, '<html>', 'x')).toThrow(/not a Yeastar API response/);
    expect(unwrapEnvelope(200, { errcode: 0, errmsg: 'SUCCESS', id: 3 }, 'x')['id']).toBe(3);
  });

  it('sends the token as the access_token query parameter', async () => {
    const { t, rest } = client({ '/openapi/v1.0/extension/list': () => ({ json: { errcode: 0, errmsg: 'SUCCESS', data: [] } }) });
    await rest.get('extension/list', { page: 1 }, 'x');
    const req = t.requests.find((r) => r.path.endsWith('extension/list'));
    expect(req?.query).toMatchObject({ page: 1, access_token: 'access-1' });
  });

  it('10004 TOKEN EXPIRED renews the token once and retries; a second 10004 is an error', async () => {
    let calls = 0;
    const { t, rest } = client({
      '/openapi/v1.0/refresh_token': () => tokenReply(50),
      '/openapi/v1.0/call/dial': (req) => {
        calls += 1;
        return req.query?.['access_token'] === 'access-50' ? { json: { errcode: 0, errmsg: 'SUCCESS', call_id: '1.2' } } : { json: { errcode: 10004, errmsg: 'TOKEN EXPIRED' } };
      },
    });
    expect((await rest.post('call/dial', { caller: '1001', callee: '555' }, 'x'))['call_id']).toBe('1.2');
    expect(calls).toBe(2);
    expect(t.requests.filter((r) => r.path.endsWith('refresh_token'))).toHaveLength(1);

    const always = client({ '/openapi/v1.0/call/dial': () => ({ json: { errcode: 10004, errmsg: 'TOKEN EXPIRED' } }) });
    await expect(always.rest.post('call/dial', {}, 'x')).rejects.toMatchObject({ code: 'PBX_TOKEN_EXPIRED' });
    expect(always.t.requests.filter((r) => r.path.endsWith('call/dial'))).toHaveLength(2);
  });

  it('listAll pages until total_number is reached', async () => {
    const all = Array.from({ length: 7 }, (_, i) => ({ number: String(1000 + i) }));
    const { t, rest } = client({
      '/openapi/v1.0/extension/list': (req) => {
        const page = Number(req.query?.['page']);
        const size = Number(req.query?.['page_size']);
        return { json: { errcode: 0, errmsg: 'SUCCESS', total_number: all.length, data: all.slice((page - 1) * size, page * size) } };
      },
    });
    const rows = await rest.listAll('extension/list', {}, 'x', { pageSize: 3 });
    expect(rows).toEqual(all);
    expect(t.requests.filter((r) => r.path.endsWith('extension/list'))).toHaveLength(3);
  });

  it('60001 DATA NOT FOUND on a list means empty', async () => {
    const { rest } = client({ '/openapi/v1.0/cdr/search': () => ({ json: { errcode: 60001, errmsg: 'DATA NOT FOUND' } }) });
    expect(await rest.listAll('cdr/search', {}, 'x')).toEqual([]);
  });

  it('stream returns the file, and turns a JSON error answer into a PbxError', async () => {
    const { rest } = client({
      '/api/download/a.wav': () => ({ json: 'RIFF....WAVE' }),
      '/api/download/gone.wav': () => ({ json: { errcode: 60001, errmsg: 'DATA NOT FOUND' } }),
    });
    const ok = await rest.stream('/api/download/a.wav', 'x');
    const chunks: Buffer[] = [];
    for await (const c of ok.stream) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('RIFF....WAVE');
    await expect(rest.stream('/api/download/gone.wav', 'x')).rejects.toMatchObject({ code: 'PBX_NOT_FOUND' });
  });
});
