import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startYeastarEmulator, type YeastarEmulator } from '../../../emulators/yeastar/harness.js';

// The harness other tests use: a separate process, driven through /_emulator/*.

let pbx: YeastarEmulator;
let receiver: Server;
let receiverUrl = '';
const received: { body: string; signature: string | undefined }[] = [];

beforeAll(async () => {
  pbx = await startYeastarEmulator({ clientId: 'cid', clientSecret: 'csecret', tokenCap: 2, sn: 'HARNESS-SN' });
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => {
      body += d.toString();
    });
    req.on('end', () => {
      const sig = req.headers['x-signature'];
      received.push({ body, signature: Array.isArray(sig) ? sig[0] : sig });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', () => resolve()));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/pbx/webhook/k`;
});

afterAll(async () => {
  await pbx.stop();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});

async function getToken(): Promise<Record<string, unknown>> {
  const res = await fetch(`${pbx.url}/openapi/v1.0/get_token`, {
    method: 'POST',
    headers: { 'User-Agent': 'OpenAPI', 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: pbx.clientId, password: pbx.clientSecret }),
  });
  return (await res.json()) as Record<string, unknown>;
}

describe('startYeastarEmulator', () => {
  it('starts a PBX on loopback with the given credentials and token cap', async () => {
    expect(pbx.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await getToken()).errcode).toBe(0);
    expect((await getToken()).errcode).toBe(0);
    expect(await getToken()).toMatchObject({ errcode: 60002 });
    expect(await pbx.tokens()).toMatchObject({ live: 2, getTokenCalls: 3, capRefusals: 1 });
    await pbx.expireAllTokens();
    expect((await pbx.tokens()).live).toBe(0);
    const requests = await pbx.requests();
    expect(requests[0]).toMatchObject({ path: '/openapi/v1.0/get_token', body: { username: 'cid', password: '[redacted]' }, errcode: 0 });
  });

  it('manages extensions', async () => {
    await pbx.addExtension({ number: '3001', name: 'Eve Adams', email: 'eve@example.com' });
    const exts = await pbx.extensions();
    expect(exts.find((e) => e.number === '3001')).toMatchObject({ caller_id_name: 'Eve Adams', email_addr: 'eve@example.com' });
    await expect(pbx.addExtension({ number: 'abc', name: 'X' })).rejects.toThrow(/digits/);
  });

  it('pushes scenario events to a subscribed socket and to a signed webhook', async () => {
    const token = String((await getToken()).access_token);
    const ws = new WebSocket(`${pbx.url.replace('http', 'ws')}/openapi/v1.0/subscribe?access_token=${token}`);
    const frames: string[] = [];
    ws.on('message', (d) => frames.push(d.toString()));
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ topic_list: [30011, 30012, 30016] }));
    await pbx.setWebhook({ url: receiverUrl, secret: 'whsecret-0123456789abcdef0123456', events: [30012] });

    const { callId } = await pbx.scenario('inbound-answered', { to: '3001', wait: true });
    await pbx.waitIdle();
    await new Promise((r) => setTimeout(r, 50));

    const types = frames.slice(1).map((f) => (JSON.parse(f) as { type: number }).type);
    expect(types).toEqual([30011, 30011, 30011, 30011, 30011, 30012]);
    expect(received).toHaveLength(1);
    const hook = received[0];
    expect(hook?.signature).toBe(createHmac('sha256', 'whsecret-0123456789abcdef0123456').update(hook?.body ?? '').digest('base64'));
    const envelope = JSON.parse(hook?.body ?? '{}') as { type: number; sn: string; msg: string };
    expect(envelope).toMatchObject({ type: 30012, sn: 'HARNESS-SN' });
    expect(JSON.parse(envelope.msg)).toMatchObject({ call_id: callId, call_to: '3001', status: 'ANSWERED' });
    expect(await pbx.webhookDeliveries()).toMatchObject([{ type: 30012, status: 200 }]);
    expect((await pbx.events({ callId })).length).toBeGreaterThan(5);
    expect((await pbx.cdr()).filter((r) => r.call_id === callId)).toHaveLength(1);
    expect((await pbx.recordings()).filter((r) => r.callId === callId)).toHaveLength(1);

    expect(await pbx.cutConnections({ forMs: 100 })).toBe(1);
    await pbx.clearWebhooks();
    ws.terminate();
  });

  it('hold + continue, and waitForEvent', async () => {
    const { callId } = await pbx.scenario('internal', { hold: true });
    await expect.poll(async () => (await pbx.liveCalls()).held).toEqual([callId]);
    expect(await pbx.continue(callId)).toBe(true);
    const cdr = await pbx.waitForEvent((e) => e.type === 30012 && e.callId === callId);
    expect(cdr.msg).toMatchObject({ type: 'Internal' });
  });

  it('scenarios: several calls started by one request ring together, each with its own options', async () => {
    const from = ['+15550100001', '+15550100002', '+15550100003'];
    const before = Date.now();
    const callIds = await pbx.scenarios('inbound-answered', from.map((number) => ({ from: number, to: '3001', hold: true, record: false })));
    expect(callIds).toHaveLength(3);
    expect(new Set(callIds).size).toBe(3);
    await expect.poll(async () => (await pbx.liveCalls()).held.length).toBe(3);
    const rings = await pbx.events({ type: 30011 });
    for (const [i, id] of callIds.entries()) {
      const first = rings.filter((e) => e.callId === id).sort((a, b) => a.at - b.at)[0];
      expect(first?.at).toBeGreaterThanOrEqual(before);
      expect(JSON.stringify(first?.msg)).toContain(from[i]);
    }
    for (const id of callIds) await pbx.continue(id);
    await pbx.waitIdle();
    await expect(pbx.scenarios('inbound-answered', [])).rejects.toThrow(/calls/);
    await expect(pbx.scenarios('inbound-answered', [{ to: '3001', wait: true }])).rejects.toThrow(/wait/);
  });

  it('burst, faults and bad control input', async () => {
    const burst = await pbx.burst({ calls: 10, concurrency: 4, scenario: 'outbound-answered', record: false });
    expect(burst.callIds).toHaveLength(10);
    await pbx.setFault({ kind: 'down' });
    await expect(getToken()).rejects.toThrow();
    await pbx.setFault(null);
    await pbx.unblockIps();
    await expect(pbx.scenario('inbound-answered', { to: '5555' })).rejects.toThrow(/not an extension/);
    await expect(pbx.scenario('nonsense' as 'internal')).rejects.toThrow(/name/);
    // A misspelled option is refused, not ignored.
    await expect(pbx.scenario('internal', { talk_seconds: 5 } as unknown as { talkSeconds: number })).rejects.toThrow(/talk_seconds/);
    await expect(pbx.setWebhook({ url: 'http://example.com/hook', secret: 's' })).rejects.toThrow(/loopback/);
    await expect(pbx.setFault({ kind: 'meteor' as 'down' })).rejects.toThrow(/kind/);
  });
});
