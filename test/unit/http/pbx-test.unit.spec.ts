import express, { type RequestHandler } from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { PbxError, type PbxConnectionSettings } from '../../../server/pbx/adapter.js';
import { pbxTestRoute } from '../../../server/http/api/pbx-test.js';
import { DEFAULT_SETTINGS, type Portal, type PortalSettings } from '../../../server/store/records.js';
import type { Store } from '../../../server/store/types.js';

const portal = { memberId: 'm1' } as Portal;
const saved: PortalSettings = {
  ...DEFAULT_SETTINGS,
  pbx: { baseUrl: 'https://pbx.example.com:8088', clientId: 'cid', clientSecret: 'saved-secret', events: 'websocket', webhookSecret: '' },
};

function app(opts: { admin: boolean; test: (s: PbxConnectionSettings) => Promise<{ extensions: number }> }) {
  const tried: PbxConnectionSettings[] = [];
  const a = express();
  a.use((_req, res, next) => {
    res.locals['user'] = { portal, userId: 1, isAdmin: opts.admin };
    next();
  });
  const requireAdmin: RequestHandler = (_req, res, next) => {
    if ((res.locals['user'] as { isAdmin: boolean }).isAdmin) next();
    else res.status(403).json({ error: 'FORBIDDEN', message: 'admins only' });
  };
  const store = { settings: { get: () => saved } } as unknown as Store;
  a.use('/api', pbxTestRoute({
    requireAdmin, store, supervisor: {
      testConnection: (s) => {
        tried.push(s);
        return opts.test(s);
      },
    },
  }));
  return { a, tried };
}

describe('POST /api/pbx/test', () => {
  it('answers ok with the extension count', async () => {
    const { a, tried } = app({ admin: true, test: async () => ({ extensions: 12 }) });
    const res = await request(a).post('/api/pbx/test').send({ baseUrl: 'https://pbx.example.com:8088', clientId: 'cid', clientSecret: 'typed' }).expect(200);
    expect(res.body).toEqual({ ok: true, message: 'Connected: the PBX lists 12 extensions', extensions: 12 });
    expect(tried[0]?.clientSecret).toBe('typed');
  });

  it('uses the saved secret only for the saved address', async () => {
    const { a, tried } = app({ admin: true, test: async () => ({ extensions: 1 }) });
    await request(a).post('/api/pbx/test').send({ baseUrl: 'https://pbx.example.com:8088/', clientId: 'cid' }).expect(200);
    expect(tried[0]?.clientSecret).toBe('saved-secret');
    const res = await request(a).post('/api/pbx/test').send({ baseUrl: 'https://evil.example.net', clientId: 'cid' }).expect(400);
    expect(res.body).toMatchObject({ ok: false, code: 'SECRET_REQUIRED' });
    expect(tried).toHaveLength(1);
  });

  it("answers the PBX's own words when the test fails", async () => {
    const { a } = app({ admin: true, test: async () => { throw new PbxError('PBX_AUTH_FAILED', 'logging in to the PBX: the PBX refused the Client ID / Client Secret [PBX said -1 FAILURE]'); } });
    const res = await request(a).post('/api/pbx/test').send({ baseUrl: 'https://pbx.example.com:8088', clientId: 'cid', clientSecret: 'x' }).expect(200);
    expect(res.body).toEqual({ ok: false, code: 'PBX_AUTH_FAILED', message: 'logging in to the PBX: the PBX refused the Client ID / Client Secret [PBX said -1 FAILURE]' });
  });

  it('refuses non-admins and bad bodies', async () => {
    await request(app({ admin: false, test: async () => ({ extensions: 1 }) }).a).post('/api/pbx/test').send({ baseUrl: 'x', clientId: 'y' }).expect(403);
    const res = await request(app({ admin: true, test: async () => ({ extensions: 1 }) }).a).post('/api/pbx/test').send({ clientId: 'y' }).expect(400);
    expect(res.body).toMatchObject({ ok: false, code: 'BAD_REQUEST' });
  });
});
