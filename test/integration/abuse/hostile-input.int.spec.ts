import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SettingsResponse, StatusResponse } from '../../../contract/api-shapes.js';
import { signWebhookBody } from '../../../server/pbx/yeastar/webhook.js';
import { freePort } from '../foundation/server-under-test.js';
import { badEncoding, formEncode, hostileValue, randomKey, seededRng, type FuzzRequest, type Rng } from '../../support/fuzz.js';
import { closeStackFindingLeaks } from '../../support/secrets.js';
import { startStack, type Stack, type Tenant } from '../../support/stack.js';

/**
 * Hostile input at every door of the running product (startServer in this process, both emulators):
 * forged application tokens, another portal's frame token, a non-admin changing settings, SSRF through the PBX
 * address, then 10,000 generated requests against /b24/events, /install, /api/* and the PBX webhook. Each is
 * answered with a 4xx, none with a 5xx, the server keeps serving, and the store is exactly as before.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20261126);
const PER_TARGET = 2_500;

interface StoreSnapshot {
  digest: string;
  portals: number;
}

describe('abuse: hostile input changes nothing', () => {
  let stack: Stack;
  let a: Tenant;
  let b: Tenant;
  let webhookKeyB = '';
  let closedPort = 0;
  const webhookSecretOf = (t: Tenant) => `whsec-${t.memberId}-2-x9`;

  function snapshot(): StoreSnapshot {
    const { store } = stack.server().services;
    const portals = store.portals.list().map((p) => ({ ...p, updatedAt: 0 }));
    const perPortal = portals.map((p) => ({
      settings: store.settings.get(p.memberId),
      bindings: store.bindings.list(p.memberId),
      calls: store.calls.listRecent(p.memberId, { limit: 1000 }),
      pending: store.outbox.pending(p.memberId).map((i) => i.id),
      failed: store.outbox.failed(p.memberId).map((i) => i.id),
      contactSync: store.contactSync.list(p.memberId),
    }));
    return { digest: createHash('sha256').update(JSON.stringify({ portals, perPortal })).digest('hex'), portals: portals.length };
  }

  beforeAll(async () => {
    stack = await startStack({ pbxSpeed: 1000 });
    a = await stack.addTenant();
    b = await stack.addTenant({ pbx: 'webhook' });
    const settings = (await stack.api(b, 'admin', 'GET', '/settings')).body as SettingsResponse;
    webhookKeyB = settings.pbx?.webhookUrl.split('/pbx/webhook/')[1] ?? '';
    expect(webhookKeyB).not.toBe('');
    // A loopback port nothing listens on: the only "host" a fuzzed install may name.
    closedPort = await freePort();
  }, 60_000);

  afterAll(async () => {
    if (!stack) return;
    expect(await closeStackFindingLeaks(stack, { extra: { 'webhook secret of B': webhookSecretOf(b) } })).toEqual([]);
  });

  async function send(req: FuzzRequest): Promise<{ status: number; text: string }> {
    const withBody = req.body !== undefined && req.method !== 'GET' && req.method !== 'HEAD';
    const res = await fetch(`${stack.url()}${req.path}`, { method: req.method, headers: req.headers, ...(withBody && req.body ? { body: new Uint8Array(req.body) } : {}) });
    const text = await res.text();
    stack.answers.push(text);
    return { status: res.status, text };
  }

  const postEvent = (fields: Record<string, unknown>) => send({
    method: 'POST', path: '/b24/events', label: 'event',
    headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.from(formEncode(fields)),
  });

  it('a forged application_token, or another portal\'s, is refused with 401 and changes nothing', async () => {
    const before = snapshot();
    const forged = await postEvent({ event: 'ONAPPUNINSTALL', data: { CLEAN: '1' }, auth: { member_id: a.memberId, application_token: 'f'.repeat(32) } });
    expect(forged.status).toBe(401);
    const crossed = await postEvent({ event: 'ONAPPUNINSTALL', data: { CLEAN: '1' }, auth: { member_id: a.memberId, application_token: b.info.applicationToken } });
    expect(crossed.status).toBe(401);
    const c2c = await postEvent({
      event: 'ONEXTERNALCALLSTART', data: { CALL_ID: 'externalCall.forged', PHONE_NUMBER: '+15550100000', USER_ID: String(a.agentId) },
      auth: { member_id: a.memberId, application_token: b.info.applicationToken },
    });
    expect(c2c.status).toBe(401);
    const reinstall = await postEvent({
      event: 'ONAPPINSTALL',
      auth: { member_id: a.memberId, application_token: 'f'.repeat(32), access_token: 'a'.repeat(40), refresh_token: 'r'.repeat(40), domain: `127.0.0.1:${closedPort}` },
    });
    // Refused either for its shape (400: not a complete install grant) or for the token (401); never installed.
    expect([400, 401]).toContain(reinstall.status);
    expect(JSON.parse(forged.text)).toMatchObject({ error: expect.any(String) as string });
    expect(snapshot()).toEqual(before);
    expect((await stack.api(a, 'admin', 'GET', '/status')).status).toBe(200);
  });

  it('another portal\'s frame token is refused on /api, for reading and for writing', async () => {
    const before = snapshot();
    const foreign: Tenant = { ...a, adminToken: b.adminToken, agentToken: b.agentToken };
    expect((await stack.api(foreign, 'admin', 'GET', '/status')).status).toBe(401);
    expect((await stack.api(foreign, 'admin', 'GET', '/settings')).status).toBe(401);
    expect((await stack.api(foreign, 'admin', 'PUT', '/settings', { enabled: false })).status).toBe(401);
    expect((await stack.api(foreign, 'admin', 'POST', '/disconnect')).status).toBe(401);
    expect(snapshot()).toEqual(before);
  });

  it('a non-admin cannot change settings, bindings, or disconnect (403), and can still read', async () => {
    const before = snapshot();
    expect((await stack.api(a, 'agent', 'GET', '/status')).status).toBe(200);
    const put = await stack.api(a, 'agent', 'PUT', '/settings', { enabled: false });
    expect(put.status).toBe(403);
    expect(put.body).toMatchObject({ error: expect.any(String) as string, message: expect.stringMatching(/admin/i) as string });
    expect((await stack.api(a, 'agent', 'PUT', '/bindings', { bindings: [{ userId: a.agentId, extension: null }] })).status).toBe(403);
    expect((await stack.api(a, 'agent', 'POST', '/bindings/auto', { dryRun: false })).status).toBe(403);
    expect((await stack.api(a, 'agent', 'POST', '/pbx/test', { baseUrl: 'http://169.254.169.254/', clientId: 'x' })).status).toBe(403);
    expect((await stack.api(a, 'agent', 'POST', '/disconnect')).status).toBe(403);
    expect(snapshot()).toEqual(before);
  });

  it('SSRF through the PBX address: link-local and cloud metadata addresses are refused with 400 (loopback is allowed here only because the test config sets PBX_ALLOW_LOOPBACK)', async () => {
    const before = snapshot();
    const targets = [
      'http://169.254.169.254/latest/meta-data/', 'http://169.254.170.2/', 'http://100.100.100.200/', 'http://[fd00:ec2::254]/',
      'http://metadata.google.internal/', 'http://metadata/', 'http://instance-data/', 'http://[fe80::1]:8088/', 'http://169.254.1.1:8088/',
      'http://2852039166/', 'http://0xa9fea9fe/', 'http://[::ffff:169.254.169.254]/', 'http://0.0.0.0:8088/', 'file:///etc/passwd',
      'gopher://127.0.0.1:25/', 'http://user:pass@127.0.0.1:1/',
    ];
    for (const baseUrl of targets) {
      const saved = await stack.api(a, 'admin', 'PUT', '/settings', { pbx: { baseUrl, clientId: 'x', clientSecret: 'y', events: 'websocket' } });
      expect(saved.status, `${baseUrl} → ${saved.text}`).toBe(400);
      expect(saved.text).toMatch(/PBX_ADDRESS_REFUSED|address/i);
      const tried = await stack.api(a, 'admin', 'POST', '/pbx/test', { baseUrl, clientId: 'x', clientSecret: 'y' });
      expect(tried.status === 400 || (tried.status === 200 && (tried.body as { ok: boolean }).ok === false), `${baseUrl} → ${tried.text}`).toBe(true);
    }
    expect(snapshot()).toEqual(before);
    const status = (await stack.api(a, 'admin', 'GET', '/status')).body as StatusResponse;
    expect(status.pbx.state).toBe('connected');
  });

  it(`${String(PER_TARGET * 4)} generated hostile requests (seed ${String(SEED)}): each a 4xx, never a 5xx, the store unchanged`, async () => {
    const before = snapshot();
    const rng = seededRng(SEED);
    const cases: FuzzRequest[] = [];
    for (let i = 0; i < PER_TARGET; i += 1) cases.push(eventCase(rng));
    for (let i = 0; i < PER_TARGET; i += 1) cases.push(installCase(rng));
    for (let i = 0; i < PER_TARGET; i += 1) cases.push(apiCase(rng));
    for (let i = 0; i < PER_TARGET; i += 1) cases.push(webhookCase(rng));
    const wrong: string[] = [];
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      for (;;) {
        const index = next;
        next += 1;
        const req = cases[index];
        if (!req) return;
        const { status, text } = await send(req);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status < 400 || status >= 500) wrong.push(`#${String(index)} ${req.label} ${req.method} ${req.path.slice(0, 120)} → ${String(status)} ${text.slice(0, 200)}`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    expect(wrong.slice(0, 20), `status counts ${JSON.stringify([...statuses])}`).toEqual([]);
    expect(snapshot()).toEqual(before);
    expect((await fetch(`${stack.url()}/healthz`)).status).toBe(200);
    expect((await stack.api(a, 'admin', 'GET', '/status')).status).toBe(200);
  // A cap on the work (10,000 requests), not a measure of it: a loaded 2-core machine needed more than 120 s.
  }, 400_000);

  // ---- generators (each case is invalid by construction: no valid token for its portal, or a poisoned body) ----

  function memberIdFor(rng: Rng): unknown {
    return rng.pick([a.memberId, b.memberId, 'f'.repeat(32), '', hostileValue(rng)]);
  }

  function wrongTokenFor(memberId: unknown, rng: Rng): unknown {
    const other = memberId === a.memberId ? b.info.applicationToken : a.info.applicationToken;
    return rng.pick([other, 'f'.repeat(32), '', hostileValue(rng), other.toUpperCase()]);
  }

  function eventCase(rng: Rng): FuzzRequest {
    const kind = rng.int(10);
    const base = { method: 'POST', path: '/b24/events', label: 'events' };
    if (kind === 0) {
      const enc = badEncoding(rng);
      return { ...base, label: 'events/encoding', headers: { 'content-type': enc.contentType }, body: enc.body };
    }
    if (kind === 1) {
      const huge = formEncode({ event: 'ONEXTERNALCALLSTART', data: { CALL_ID: 'x'.repeat(70_000) }, auth: { member_id: a.memberId } });
      return { ...base, label: 'events/huge', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.from(huge) };
    }
    if (kind === 2) {
      const flood = Array.from({ length: 600 }, (_, i) => `data[k${String(i)}]=1`).join('&');
      return { ...base, label: 'events/params', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.from(`event=ONEXTERNALCALLSTART&${flood}`) };
    }
    const memberId = memberIdFor(rng);
    const known = memberId === a.memberId || memberId === b.memberId;
    // ONAPPINSTALL may introduce a new portal by design; it is generated only for known portals (then it must prove itself).
    const events = known ? ['ONAPPINSTALL', 'ONAPPUNINSTALL', 'ONEXTERNALCALLSTART', 'ONEXTERNALCALLBACKSTART', ' onexternalcallstart '] : ['ONAPPUNINSTALL', 'ONEXTERNALCALLSTART', 'ONEXTERNALCALLBACKSTART', 'ONCRMCONTACTADD'];
    const fields: Record<string, unknown> = {};
    if (rng.chance(0.9)) fields.event = rng.chance(0.8) ? rng.pick(events) : hostileValue(rng);
    if (rng.chance(0.9)) {
      const auth: Record<string, unknown> = {};
      if (rng.chance(0.9)) auth.member_id = memberId;
      if (rng.chance(0.85)) auth.application_token = wrongTokenFor(memberId, rng);
      if (rng.chance(0.3)) auth.domain = `127.0.0.1:${String(closedPort)}`;
      if (rng.chance(0.3)) auth.access_token = 'a'.repeat(40);
      fields.auth = rng.chance(0.1) ? hostileValue(rng) : auth;
    }
    if (rng.chance(0.7)) {
      fields.data = rng.chance(0.3) ? hostileValue(rng) : {
        CALL_ID: hostileValue(rng), PHONE_NUMBER: hostileValue(rng), USER_ID: hostileValue(rng), CLEAN: '1', [randomKey(rng)]: hostileValue(rng),
      };
    }
    if (rng.chance(0.2)) fields[randomKey(rng)] = hostileValue(rng);
    const asJson = rng.chance(0.15);
    return {
      ...base,
      headers: { 'content-type': asJson ? 'application/json' : 'application/x-www-form-urlencoded' },
      body: Buffer.from(asJson ? JSON.stringify(fields) : formEncode(fields)),
    };
  }

  function installCase(rng: Rng): FuzzRequest {
    const kind = rng.int(8);
    const domain = rng.pick([undefined, '', 'not a host!', '../../x', `127.0.0.1:${String(closedPort)}`, '%00', 'x'.repeat(300)]);
    const query = new URLSearchParams();
    if (domain !== undefined) query.set('DOMAIN', domain);
    if (rng.chance(0.5)) query.set('PROTOCOL', rng.pick(['0', '1', '2', 'gopher', '']));
    if (rng.chance(0.3)) query.set('APP_SID', String(hostileValue(rng)).slice(0, 200));
    const path = `/install${query.size > 0 ? `?${query.toString()}` : ''}`;
    if (kind === 0) {
      const enc = badEncoding(rng);
      return { method: 'POST', path, label: 'install/encoding', headers: { 'content-type': enc.contentType }, body: enc.body };
    }
    if (kind === 1) {
      return { method: 'POST', path, label: 'install/huge', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.from(`AUTH_ID=${'x'.repeat(40_000)}`) };
    }
    if (kind === 2) return { method: rng.pick(['GET', 'PUT', 'DELETE', 'PATCH']), path, label: 'install/method', headers: {} };
    const memberId = memberIdFor(rng);
    const fields: Record<string, unknown> = {};
    if (rng.chance(0.8)) fields.member_id = memberId;
    if (rng.chance(0.8)) fields.AUTH_ID = rng.chance(0.7) ? 'a'.repeat(40) : hostileValue(rng);
    if (rng.chance(0.8)) fields.REFRESH_ID = rng.chance(0.7) ? 'r'.repeat(40) : hostileValue(rng);
    if (rng.chance(0.6)) fields.AUTH_EXPIRES = hostileValue(rng);
    if (rng.chance(0.6)) fields.APPLICATION_TOKEN = wrongTokenFor(memberId, rng);
    if (rng.chance(0.5)) fields.SERVER_ENDPOINT = rng.pick(['', 'not a url', `http://127.0.0.1:${String(closedPort)}/rest/`, 'http://169.254.169.254/']);
    if (rng.chance(0.3)) fields.status = hostileValue(rng);
    if (rng.chance(0.3)) fields.PLACEMENT = hostileValue(rng);
    return { method: 'POST', path, label: 'install', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.from(formEncode(fields)) };
  }

  function apiCase(rng: Rng): FuzzRequest {
    const tenant = rng.pick([a, b]);
    const other = tenant === a ? b : a;
    const auth = rng.int(6);
    const headers: Record<string, string> = {};
    let admin = false;
    if (auth === 0) { /* no auth at all */ } else if (auth === 1) {
      headers.authorization = rng.pick(['Bearer', 'Basic dXNlcjpwYXNz', `Bearer ${'z'.repeat(600)}`, 'Bearer <>\'"', `Bearer ${tenant.adminToken}`]);
    } else if (auth === 2) {
      headers.authorization = `Bearer ${rng.pick([other.adminToken, other.agentToken])}`;
      headers['x-member-id'] = tenant.memberId;
    } else if (auth === 3) {
      headers.authorization = `Bearer ${tenant.adminToken}`;
      headers['x-member-id'] = rng.pick(['', '../x', 'f'.repeat(32), 'x'.repeat(200), other.memberId]);
    } else if (auth === 4) {
      headers.authorization = `Bearer ${tenant.agentToken}`;
      headers['x-member-id'] = tenant.memberId;
    } else {
      headers.authorization = `Bearer ${tenant.adminToken}`;
      headers['x-member-id'] = tenant.memberId;
      admin = true;
    }
    if (!admin) {
      // Anything goes without a valid admin identity: every mutating route must refuse (401/403) or not exist (404).
      const route = rng.pick([
        ['PUT', '/api/settings'], ['POST', '/api/disconnect'], ['PUT', '/api/bindings'], ['POST', '/api/bindings/auto'],
        ['POST', '/api/pbx/test'], ['POST', '/api/phonebooks'], ['GET', '/api/settings'], ['GET', '/api/status'],
        ['GET', '/api/calls?entityType=CONTACT&entityId=1'], ['POST', `/api/outbox/x/retry`], ['DELETE', '/api/settings'],
      ] as const);
      const mutating = route[0] !== 'GET';
      // A plain user may read (GET is allowed for every frame user): only invalid identities are fuzzed on GET.
      if (!mutating && auth === 4) headers.authorization = 'Bearer forged-token-0000';
      return { method: route[0], path: route[1], label: `api/auth${String(auth)}`, headers: { ...headers, 'content-type': 'application/json' }, body: mutating ? Buffer.from(JSON.stringify({ enabled: false, pbx: null })) : undefined };
    }
    return adminPoison(rng, headers);
  }

  /** An admin request that must be refused for its content: a wrong type, an unknown field, a broken body, a bad query. */
  function adminPoison(rng: Rng, headers: Record<string, string>): FuzzRequest {
    const kind = rng.int(7);
    const json = { ...headers, 'content-type': 'application/json' };
    if (kind === 0) {
      const enc = badEncoding(rng);
      return { method: 'PUT', path: '/api/settings', label: 'api/admin/encoding', headers: { ...headers, 'content-type': enc.contentType }, body: enc.body };
    }
    if (kind === 1) {
      const body = { enabled: true, [`x${String(rng.int(1000))}`]: hostileValue(rng) };
      return { method: 'PUT', path: '/api/settings', label: 'api/admin/unknown-field', headers: json, body: Buffer.from(JSON.stringify(body)) };
    }
    if (kind === 2) {
      const field = rng.pick(['enabled', 'pbx', 'contactSync', 'autoCreate', 'defaultCountry', 'unboundCallsUserId'] as const);
      const wrong: Record<string, unknown> = {
        enabled: rng.pick(['yes', 1, [], {}]), pbx: rng.pick(['x', 5, [], { baseUrl: 7, clientId: 'x', events: 'websocket' }, { baseUrl: 'http://127.0.0.1:1', clientId: 'x', events: 'carrier-pigeon' }]),
        contactSync: rng.pick(['x', { entityType: 'DEAL' }, { enabled: 'no' }]), autoCreate: rng.pick([{ namePrefix: 'x'.repeat(101) }, { entityType: 'COMPANY' }, 3]),
        defaultCountry: rng.pick(['XX', 'usa', 1, '']), unboundCallsUserId: rng.pick([-1, 1.5, 'me', {}]),
      };
      return { method: 'PUT', path: '/api/settings', label: `api/admin/type:${field}`, headers: json, body: Buffer.from(JSON.stringify({ [field]: wrong[field] })) };
    }
    if (kind === 3) {
      const body = rng.pick([{ bindings: 'all' }, { bindings: [{ userId: 'x', extension: '1001' }] }, { bindings: [{ userId: 1, extension: 1001, admin: true }] }, {}]);
      return { method: 'PUT', path: '/api/bindings', label: 'api/admin/bindings', headers: json, body: Buffer.from(JSON.stringify(body)) };
    }
    if (kind === 4) {
      // (A refused address is answered 200 {ok:false, code:PBX_ADDRESS_REFUSED} by this route's contract: see the SSRF test.)
      const body = rng.pick([{}, { baseUrl: 5, clientId: 'x' }, { baseUrl: 'http://127.0.0.1:1/', clientId: ['x'] }, { baseUrl: 'x'.repeat(3000), clientId: 'x' }]);
      return { method: 'POST', path: '/api/pbx/test', label: 'api/admin/pbx-test', headers: json, body: Buffer.from(JSON.stringify(body)) };
    }
    if (kind === 5) {
      const query = rng.pick(['entityType=DROP&entityId=1', 'entityType=CONTACT&entityId=-5', 'entityType=CONTACT&entityId=abc', 'entityType=CONTACT', 'entityId=1e999', 'limit=-1&entityType=LEAD&entityId=1']);
      return { method: 'GET', path: `/api/calls?${query}`, label: 'api/admin/calls-query', headers };
    }
    const path = rng.pick(['/api/calls/..%2F..%2Fportals.json/recording', '/api/calls/nope/recording', '/api/../portals.json', '/api/%00', `/api/${'x'.repeat(2000)}`, '/api/outbox/nope/retry']);
    return { method: rng.pick(['GET', 'POST']), path, label: 'api/admin/path', headers: json, body: undefined };
  }

  function webhookCase(rng: Rng): FuzzRequest {
    const key = rng.pick([webhookKeyB, webhookKeyB.slice(1), 'x'.repeat(32), '', '..%2F..', '%00', 'k'.repeat(500)]);
    const path = `/pbx/webhook/${key}`;
    const kind = rng.int(5);
    let body: Buffer;
    let contentType = 'application/json';
    if (kind === 0) {
      const enc = badEncoding(rng);
      body = enc.body;
      contentType = enc.contentType;
    } else if (kind === 1) {
      body = Buffer.alloc(1_100_000, 0x61);
    } else {
      const event = { type: rng.pick([30011, 30012, 30015, 30016, 'x', null]), sn: hostileValue(rng), msg: rng.chance(0.5) ? JSON.stringify({ call_id: hostileValue(rng), members: hostileValue(rng) }) : hostileValue(rng) };
      body = Buffer.from(JSON.stringify(event));
    }
    const signature = rng.pick([
      undefined, '', 'garbage', signWebhookBody('wrong-secret', body), signWebhookBody(webhookSecretOf(b), Buffer.concat([body, Buffer.from(' ')])),
      signWebhookBody(webhookSecretOf(b), body).slice(0, 20),
    ]);
    const headers: Record<string, string> = { 'content-type': contentType };
    if (signature !== undefined) headers['x-signature'] = signature;
    return { method: rng.pick(['POST', 'POST', 'POST', 'GET', 'PUT']), path, label: `webhook/${String(kind)}`, headers, body: kind === 1 || rng.chance(0.9) ? body : undefined };
  }
});

describe('abuse: the PBX address on a server whose operator did not allow loopback or private networks', () => {
  let stack: Stack;

  afterAll(async () => {
    if (!stack) return;
    expect(await closeStackFindingLeaks(stack)).toEqual([]);
  });

  it('refuses this host (loopback) and private ranges with 400 and a hint naming the setting; nothing saved', async () => {
    stack = await startStack({ env: { PBX_ALLOW_LOOPBACK: '0', PBX_ALLOW_PRIVATE: '0' } });
    const tenant = await stack.addTenant({ pbx: 'none' });
    const before = (await stack.api(tenant, 'admin', 'GET', '/settings')).body as SettingsResponse;
    const cases: [string, RegExp][] = [
      [stack.pbx.url, /PBX_ALLOW_LOOPBACK/], ['http://127.0.0.2:8088', /PBX_ALLOW_LOOPBACK/], ['http://[::1]:8088', /PBX_ALLOW_LOOPBACK/],
      ['http://10.0.0.5:8088', /PBX_ALLOW_PRIVATE/], ['http://192.168.1.10', /PBX_ALLOW_PRIVATE/], ['http://[::ffff:10.1.2.3]', /PBX_ALLOW_PRIVATE/],
      ['http://169.254.169.254', /metadata/],
    ];
    for (const [baseUrl, hint] of cases) {
      const saved = await stack.api(tenant, 'admin', 'PUT', '/settings', {
        enabled: true, pbx: { baseUrl, clientId: stack.pbx.clientId, clientSecret: stack.pbx.clientSecret, events: 'websocket' },
      });
      expect(saved.status, `${baseUrl} → ${saved.text}`).toBe(400);
      expect(saved.text).toMatch(hint);
    }
    expect((await stack.api(tenant, 'admin', 'GET', '/settings')).body).toEqual(before);
    const status = (await stack.api(tenant, 'admin', 'GET', '/status')).body as StatusResponse;
    expect(status.pbx.configured).toBe(false);
    // The PBX emulator saw no login: the refusal happens before any connection.
    expect((await stack.pbx.tokens()).getTokenCalls).toBe(0);
  }, 60_000);
});
