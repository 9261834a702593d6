import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { EventHub, Subscriber } from './event-hub.js';
import type { PbxState } from './state.js';
import type { TokenStore } from './tokens.js';

/**
 * WebSocket /openapi/v1.0/subscribe?access_token=
 * (https://help.yeastar.com/en/p-series-software-edition/developer-guide/monitor-events-via-websocket.html):
 * the client sends {"topic_list":[…]} and gets {"errcode":0,"errmsg":"SUCCESS"}; the text "heartbeat" is answered
 * "heartbeat response" (capture #1); the PBX drops a socket after 60 s without any message from the client
 * (https://help.yeastar.com/en/p-series-software-edition/developer-guide/api-events-overview.html).
 */

export const SUBSCRIBE_PATH = '/openapi/v1.0/subscribe';

export class SubscribeEndpoint {
  private readonly wss = new WebSocketServer({ noServer: true });
  private nextId = 1;
  private refuseUntil = 0;
  /** True while the PBX is frozen (server.ts fault `frozen`): sockets stay open and answer nothing. */
  isFrozen: () => boolean = () => false;
  /** Upgrades asked for while frozen: never answered; dropped when the PBX thaws or stops. */
  private readonly hanging = new Set<Duplex>();

  constructor(
    private readonly state: PbxState,
    private readonly tokens: TokenStore,
    private readonly hub: EventHub,
    private readonly trace: (line: string) => void = () => undefined,
  ) {}

  /** New sockets fail for `ms` (a link outage), measured in wall time so tests need not move the clock. */
  refuseFor(ms: number): void {
    this.refuseUntil = Date.now() + ms;
  }

  /** Ends a cut early: new sockets are accepted again (a test that cuts "until its calls are played"). */
  restore(): void {
    this.refuseUntil = 0;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    if (this.isFrozen()) {
      this.trace('upgrade left unanswered (frozen)');
      this.hanging.add(socket);
      socket.on('close', () => this.hanging.delete(socket));
      return;
    }
    if (Date.now() < this.refuseUntil) {
      this.trace('socket refused (link cut)');
      socket.destroy();
      return;
    }
    const token = url.searchParams.get('access_token');
    const valid = this.tokens.isValid(token);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.trace(`socket opened, token ${valid ? 'valid' : 'INVALID'}`);
      if (!valid) {
        // The handshake succeeds but the PBX answers the bad token and closes (exact close code UNCONFIRMED).
        ws.send(JSON.stringify({ errcode: 10004, errmsg: 'TOKEN EXPIRED' }));
        ws.close(1008, 'TOKEN EXPIRED');
        return;
      }
      this.attach(ws);
    });
  }

  private attach(ws: WebSocket): void {
    const now = this.state.now();
    const sub: Subscriber = { socket: ws, info: { id: this.nextId++, topics: [], openedAt: now, lastClientMessageAt: now } };
    this.hub.subscribers.add(sub);
    let idleTimer = this.armIdle(ws);
    ws.on('message', (data, isBinary) => {
      if (this.isFrozen()) return;
      clearTimeout(idleTimer);
      idleTimer = this.armIdle(ws);
      sub.info.lastClientMessageAt = this.state.now();
      const text = isBinary ? '' : data.toString();
      if (text.trim() === 'heartbeat') {
        ws.send('heartbeat response');
        return;
      }
      ws.send(JSON.stringify(this.subscribe(sub, text)));
    });
    ws.on('close', (code) => {
      this.trace(`socket ${sub.info.id} closed (${code})`);
      clearTimeout(idleTimer);
      this.hub.subscribers.delete(sub);
    });
    ws.on('error', () => ws.terminate());
  }

  private armIdle(ws: WebSocket): NodeJS.Timeout {
    // A frozen PBX closes nothing either: its idle timer is re-armed until it thaws.
    const timer = setTimeout(() => {
      if (this.isFrozen()) this.armIdle(ws);
      else ws.close(1000, 'idle timeout');
    }, this.state.options.wsIdleTimeoutMs);
    timer.unref();
    return timer;
  }

  /** A topic_list replaces the socket's topics; anything else is a parameter error (answer shape for bad frames UNCONFIRMED). */
  private subscribe(sub: Subscriber, text: string): Record<string, unknown> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return { errcode: 40002, errmsg: 'PARAMETER ERROR' };
    }
    const list = typeof parsed === 'object' && parsed !== null && 'topic_list' in parsed ? parsed.topic_list : undefined;
    if (!Array.isArray(list) || !list.every((t) => Number.isInteger(Number(t)))) {
      return { errcode: 40002, errmsg: 'PARAMETER ERROR', invalid_param_list: [{ field: 'topic_list', validation_type: 'invalid' }] };
    }
    sub.info.topics = list.map(Number);
    this.trace(`socket ${sub.info.id} subscribed to ${sub.info.topics.join(',')}`);
    return { errcode: 0, errmsg: 'SUCCESS' };
  }

  /** The PBX thawed: the upgrades it left hanging fail now (their clients gave up long ago). */
  dropHanging(): void {
    for (const socket of this.hanging) socket.destroy();
    this.hanging.clear();
  }

  close(): void {
    this.dropHanging();
    for (const client of this.wss.clients) client.terminate();
    this.wss.close();
  }
}
