import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startPbx, type Pbx } from './pbx-client.js';

// The subscribe socket rules of the Monitor Events via WebSocket page: token to connect, topic_list, heartbeat, 60 s idle drop.

let pbx: Pbx | undefined;
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.terminate();
  await pbx?.close();
  pbx = undefined;
});

interface Conn {
  ws: WebSocket;
  messages: string[];
  closed: Promise<{ code: number; reason: string }>;
  next(): Promise<string>;
}

function connect(url: string, token: string): Promise<Conn> {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/openapi/v1.0/subscribe?access_token=${token}`);
  sockets.push(ws);
  const messages: string[] = [];
  const waiters: ((m: string) => void)[] = [];
  let read = 0;
  ws.on('message', (d) => {
    messages.push(d.toString());
    waiters.shift()?.(d.toString());
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  const next = (): Promise<string> => {
    const m = messages[read];
    if (m !== undefined) {
      read += 1;
      return Promise.resolve(m);
    }
    return new Promise((resolve) => waiters.push((msg) => {
      read += 1;
      resolve(msg);
    }));
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, messages, closed, next }));
    ws.once('error', reject);
  });
}

describe('Yeastar emulator: WebSocket subscribe', () => {
  it('closes a socket opened with an invalid token', async () => {
    pbx = await startPbx();
    const conn = await connect(pbx.url, 'not-a-token');
    const close = await conn.closed;
    expect(close.code).toBe(1008);
    expect(JSON.parse(conn.messages[0] ?? '{}')).toMatchObject({ errcode: 10004 });
  });

  it('acknowledges topic_list, answers heartbeat, and refuses garbage', async () => {
    pbx = await startPbx();
    const conn = await connect(pbx.url, await pbx.login());
    conn.ws.send('heartbeat');
    expect(await conn.next()).toBe('heartbeat response');
    conn.ws.send(JSON.stringify({ topic_list: [30011, 30012] }));
    expect(JSON.parse(await conn.next())).toEqual({ errcode: 0, errmsg: 'SUCCESS' });
    conn.ws.send('{"topic_list": "all"}');
    expect(JSON.parse(await conn.next())).toMatchObject({ errcode: 40002 });
    expect(pbx.emu.hub.sockets()[0]?.topics).toEqual([30011, 30012]);
  });

  it('delivers only subscribed event types, as {type, sn, msg: <JSON string>}', async () => {
    pbx = await startPbx({ sn: 'SN-TEST' });
    const conn = await connect(pbx.url, await pbx.login());
    conn.ws.send(JSON.stringify({ topic_list: [30012] }));
    await conn.next();
    const { done } = pbx.emu.board.start('inbound-answered', {});
    await done;
    await new Promise((r) => setTimeout(r, 50));
    const frames = conn.messages.slice(1).map((m) => JSON.parse(m) as { type: number; sn: string; msg: unknown });
    expect(frames.map((f) => f.type)).toEqual([30012]);
    expect(frames[0]?.sn).toBe('SN-TEST');
    expect(typeof frames[0]?.msg).toBe('string');
  });

  it('can send msg as an object for chosen event ids (some doc pages show it so)', async () => {
    pbx = await startPbx();
    const conn = await connect(pbx.url, await pbx.login());
    conn.ws.send(JSON.stringify({ topic_list: [30012] }));
    await conn.next();
    pbx.emu.hub.setFormat({ msgAsObjectFor: [30012] });
    await pbx.emu.board.start('internal', {}).done;
    const frame = JSON.parse(await conn.next()) as { msg: unknown };
    expect(frame.msg).toMatchObject({ type: 'Internal', status: 'ANSWERED' });
  });

  it('drops a socket after the idle timeout without client messages; heartbeats keep it open', async () => {
    pbx = await startPbx({ wsIdleTimeoutMs: 250 });
    const token = await pbx.login();
    const idle = await connect(pbx.url, token);
    const alive = await connect(pbx.url, token);
    const beat = setInterval(() => alive.ws.send('heartbeat'), 80);
    // The event, not a stopwatch: the idle socket is closed by the idle timer (its reason says so), not by anything else.
    expect(await idle.closed).toEqual({ code: 1000, reason: 'idle timeout' });
    await new Promise((r) => setTimeout(r, 300));
    clearInterval(beat);
    expect(alive.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('cutAll drops every socket; refuseFor makes new ones fail for a while', async () => {
    pbx = await startPbx();
    const token = await pbx.login();
    const conn = await connect(pbx.url, token);
    pbx.emu.subscribe.refuseFor(200);
    expect(pbx.emu.hub.cutAll()).toBe(1);
    await conn.closed;
    await expect(connect(pbx.url, token)).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 250));
    await expect(connect(pbx.url, token)).resolves.toBeDefined();
  });

  it('a plain HTTP GET to the subscribe path gets HTTP 400', async () => {
    pbx = await startPbx();
    const token = await pbx.login();
    const res = await fetch(`${pbx.url}/openapi/v1.0/subscribe?access_token=${token}`, { headers: { 'User-Agent': 'OpenAPI' } });
    expect(res.status).toBe(400);
  });
});
