import type { Logger } from '../log.js';
import type { OutboxItem } from '../store/records.js';
import type { Store } from '../store/types.js';
import type { OutboxFailureHandler, OutboxResultHandler } from './types.js';

/**
 * Tells the named handlers about done and parked items. Handlers are looked up by name, so items persisted before a
 * restart still reach the handler registered at the next boot (or registered after start()); `delivered` is persisted afterwards, so a crash in
 * between re-tells the handler once at start (handlers must tolerate that). A throwing handler is logged and
 * counted as told: it must never stall the queue.
 */
export class Delivery {
  private readonly onDone = new Map<string, OutboxResultHandler>();
  private readonly onFailed = new Map<string, OutboxFailureHandler>();

  constructor(private readonly store: Store, private readonly log: Logger) {}

  registerDone(name: string, handler: OutboxResultHandler): void {
    this.onDone.set(name, handler);
  }

  registerFailed(name: string, handler: OutboxFailureHandler): void {
    this.onFailed.set(name, handler);
  }

  /** Whether the item's handler is registered. */
  has(item: OutboxItem): boolean {
    if (item.status === 'done') return item.onDone !== undefined && this.onDone.has(item.onDone);
    return item.onFailed !== undefined && this.onFailed.has(item.onFailed);
  }

  async deliverDone(item: OutboxItem): Promise<void> {
    const handler = this.handler(item, item.onDone, this.onDone, 'result');
    if (handler) await this.run(item, () => handler(item, item.result));
  }

  async deliverFailed(item: OutboxItem): Promise<void> {
    const handler = this.handler(item, item.onFailed, this.onFailed, 'failure');
    if (handler) await this.run(item, () => handler(item, item.lastError ?? 'unknown error'));
  }

  /** The handler the item names, unless it has none or was told already; a name nobody registered is logged. */
  private handler<H>(item: OutboxItem, name: string | undefined, handlers: Map<string, H>, kind: 'result' | 'failure'): H | undefined {
    if (!name || item.delivered) return undefined;
    const handler = handlers.get(name);
    if (!handler) this.log.warn({ portal: item.portal, itemId: item.id, handler: name }, `no outbox ${kind} handler registered under this name`);
    return handler;
  }

  private async run(item: OutboxItem, call: () => Promise<void> | void): Promise<void> {
    try {
      await call();
    } catch (err) {
      this.log.error({ portal: item.portal, itemId: item.id, method: item.method, err }, 'outbox handler threw; the queue goes on');
    }
    const current = this.store.outbox.get(item.id);
    if (current && current.status === item.status) {
      await this.store.outbox.update({ ...current, delivered: true }).catch((err: unknown) => {
        this.log.warn({ portal: item.portal, itemId: item.id, err }, 'could not record that the handler was told; it may be told again after a restart');
      });
    }
  }
}
