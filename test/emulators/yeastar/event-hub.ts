import { createHmac } from 'node:crypto';
import { WebSocket } from 'ws';
import type { PbxState } from './state.js';
import type { EmittedEvent, EventFormat, SocketInfo, WebhookConfig, WebhookDelivery } from './types.js';

/**
 * Fans every PBX event out to the subscribed WebSockets (per their topic_list) and to the configured webhooks.
 * Envelope `{"type":<id>,"sn":"<serial>","msg":"<JSON string>"}` — msg is a string in every capture
 * (pienaahj/pbx-api:data/dump.txt) while some doc pages (e.g. 30034) print it as an object; EventFormat picks per event id.
 * Webhook: same envelope as the raw body, `X-Signature` = Base64(HMAC-SHA256(secret, raw body))
 * (https://help.yeastar.com/en/p-series-software-edition/developer-guide/monitor-events-via-webhook.html). Up to 5 webhooks.
 */

export interface Subscriber {
  info: SocketInfo;
  socket: WebSocket;
}

const MAX_WEBHOOKS = 5;

export class EventHub {
  readonly subscribers = new Set<Subscriber>();
  private readonly log: EmittedEvent[] = [];
  private webhooks: WebhookConfig[] = [];
  private readonly deliveries: WebhookDelivery[] = [];
  private format: EventFormat = { msgAsObjectFor: [] };
  private readonly pending = new Set<Promise<void>>();
  /** True while the PBX is frozen (server.ts fault `frozen`): nothing goes out, to sockets or webhooks. */
  isFrozen: () => boolean = () => false;
  /** Debug hook: called after each event went out. */
  onEmit: ((type: number, callId: string | undefined, deliveredTo: number) => void) | undefined;

  constructor(private readonly state: PbxState) {}

  emit(type: number, msg: Record<string, unknown>): void {
    const wireMsg = this.format.msgAsObjectFor.includes(type) ? msg : JSON.stringify(msg);
    const envelope = JSON.stringify({ type, sn: this.state.options.sn, msg: wireMsg });
    let deliveredTo = 0;
    const frozen = this.isFrozen();
    for (const sub of frozen ? [] : this.subscribers) {
      if (sub.socket.readyState !== WebSocket.OPEN || !sub.info.topics.includes(type)) continue;
      sub.socket.send(envelope);
      deliveredTo += 1;
    }
    const callId = typeof msg.call_id === 'string' ? msg.call_id : undefined;
    this.log.push({ at: this.state.now(), type, msg, ...(callId ? { callId } : {}), deliveredTo });
    this.onEmit?.(type, callId, deliveredTo);
    for (const hook of frozen ? [] : this.webhooks) {
      if (hook.events && !hook.events.includes(type)) continue;
      const p = this.push(hook, type, envelope).finally(() => this.pending.delete(p));
      this.pending.add(p);
    }
  }

  events(): EmittedEvent[] {
    return [...this.log];
  }

  clearEvents(): void {
    this.log.length = 0;
  }

  setWebhook(config: WebhookConfig): void {
    const others = this.webhooks.filter((w) => w.url !== config.url);
    if (others.length >= MAX_WEBHOOKS) throw new Error(`the PBX holds at most ${MAX_WEBHOOKS} webhooks`);
    this.webhooks = [...others, config];
  }

  clearWebhooks(): void {
    this.webhooks = [];
  }

  webhookDeliveries(): WebhookDelivery[] {
    return [...this.deliveries];
  }

  setFormat(format: EventFormat): void {
    this.format = format;
  }

  sockets(): SocketInfo[] {
    return [...this.subscribers].filter((s) => s.socket.readyState === WebSocket.OPEN).map((s) => ({ ...s.info }));
  }

  /** Closes every socket the way a dropped link looks to the client: no close handshake. */
  cutAll(): number {
    let cut = 0;
    for (const sub of this.subscribers) {
      sub.socket.terminate();
      cut += 1;
    }
    this.subscribers.clear();
    return cut;
  }

  async drain(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  private async push(hook: WebhookConfig, type: number, envelope: string): Promise<void> {
    const signature = createHmac('sha256', hook.secret).update(envelope).digest('base64');
    const at = this.state.now();
    try {
      let response: Response;
      if (hook.method === 'GET') {
        // A GET webhook carries the envelope in the query (the PBX UI offers GET or POST); the signature is over the same text.
        const url = new URL(hook.url);
        url.searchParams.set('data', envelope);
        response = await fetch(url, { method: 'GET', headers: { 'X-Signature': signature }, signal: AbortSignal.timeout(5000) });
      } else {
        response = await fetch(hook.url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', 'X-Signature': signature },
          body: envelope,
          signal: AbortSignal.timeout(5000),
        });
      }
      await response.arrayBuffer();
      this.deliveries.push({ at, url: hook.url, type, status: response.status });
    } catch (err) {
      this.deliveries.push({ at, url: hook.url, type, status: 0, error: err instanceof Error ? err.message : String(err) });
    }
  }
}
