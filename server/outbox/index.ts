import { randomUUID } from 'node:crypto';
import { AppError, notFound } from '../errors.js';
import type { Logger } from '../log.js';
import type { BitrixClients } from '../bitrix/types.js';
import type { OutboxItem } from '../store/records.js';
import type { Store } from '../store/types.js';
import { Delivery } from './delivery.js';
import { referencedIds, renameRefs } from './refs.js';
import { defaultBackoff, defaultOperationLimitBackoff } from './retry-policy.js';
import type { NewOutboxItem, Outbox, OutboxStats } from './types.js';
import { idleTimeout, PortalWorker } from './worker.js';

export { ref } from './types.js';
export type { NewOutboxItem, Outbox, OutboxStats, ResultRef } from './types.js';

export interface CreateOutboxOptions {
  store: Store;
  clients: BitrixClients;
  log: Logger;
  /** Attempts before an item is parked as failed (OUTBOX_MAX_ATTEMPTS). */
  maxAttempts: number;
  now?: () => number;
  /** Delay before attempt n+1 after n failed ones (ms). Default: exponential 1 s … 5 min with jitter. */
  backoff?: (attempt: number) => number;
  /** Delay after OPERATION_TIME_LIMIT. Default: at least a minute. */
  operationLimitBackoff?: (attempt: number) => number;
  /** How often a portal waiting for a reinstall is looked at again (ms). Default 30 s. */
  reinstallRecheckMs?: number;
  /** Whether this instance sends the portal's items now (server/cluster/ownership.ts). Default: every portal. */
  owns?: (portal: string) => boolean;
}

/**
 * Every Bitrix24 write of the product: persisted first, then sent by the portal's worker, retried with backoff,
 * ordered per group, batched when several are due, parked (never dropped) when it cannot succeed.
 */
export function createOutbox(opts: CreateOutboxOptions): Outbox & { resume(portal: string): void; stopPortal(portal: string): Promise<void> } {
  const { store, log } = opts;
  const now = opts.now ?? Date.now;
  const delivery = new Delivery(store, log);
  const workers = new Map<string, PortalWorker>();
  const requests = new Map<string, number>();
  let started = false;

  const workerFor = (portal: string): PortalWorker => {
    let worker = workers.get(portal);
    if (!worker) {
      worker = new PortalWorker(portal, {
        store, clients: opts.clients, log: log.child({ portal }), delivery,
        maxAttempts: opts.maxAttempts, now,
        backoff: opts.backoff ?? defaultBackoff,
        operationLimitBackoff: opts.operationLimitBackoff ?? defaultOperationLimitBackoff,
        reinstallRecheckMs: opts.reinstallRecheckMs ?? 30_000,
        countRequest: (p) => requests.set(p, (requests.get(p) ?? 0) + 1),
        owns: opts.owns ?? (() => true),
      });
      workers.set(portal, worker);
    }
    return worker;
  };

  const wake = (portal: string): void => {
    if (started) workerFor(portal).wake();
  };

  async function enqueue(items: NewOutboxItem[]): Promise<OutboxItem[]> {
    const at = now();
    const renamed = new Map<string, string>();
    const existing: OutboxItem[] = [];
    const fresh: OutboxItem[] = [];
    for (const input of items) {
      // Idempotency: an item whose key (or explicit id) is stored already is not added again; references to it
      // from items of this same call are pointed at the stored one.
      const stored = (input.key !== undefined ? store.outbox.getByKey(input.portal, input.key) : undefined)
        ?? (input.id !== undefined ? store.outbox.get(input.id) : undefined);
      if (stored) {
        if (input.id !== undefined && input.id !== stored.id) renamed.set(input.id, stored.id);
        existing.push(stored);
        continue;
      }
      fresh.push({
        id: input.id ?? randomUUID(),
        portal: input.portal,
        group: input.group,
        seq: store.outbox.nextSeq(),
        method: input.method,
        params: input.params,
        ...(input.key !== undefined ? { key: input.key } : {}),
        ...(input.onDone !== undefined ? { onDone: input.onDone } : {}),
        ...(input.onFailed !== undefined ? { onFailed: input.onFailed } : {}),
        ...(input.meta !== undefined ? { meta: input.meta } : {}),
        status: 'pending',
        attempts: 0,
        nextAttemptAt: at,
        createdAt: at,
      });
    }
    const toStore = fresh.map((item) => ({ ...item, params: renameRefs(item.params, renamed) }));
    const stored = await store.outbox.append(toStore);
    for (const portal of new Set(stored.map((i) => i.portal))) wake(portal);
    return [...existing, ...stored];
  }

  async function retry(portal: string, id: string): Promise<void> {
    const item = store.outbox.get(id);
    if (!item || item.portal !== portal) throw notFound(`outbox item ${id} does not exist on portal ${portal}`);
    if (item.status !== 'failed') throw new AppError('OUTBOX_NOT_PARKED', `outbox item ${id} is ${item.status}, not failed`, 409);
    // Items parked only because they needed this one's result come back with it.
    const back = new Set([id]);
    let grew = true;
    const parked = store.outbox.failed(portal);
    while (grew) {
      grew = false;
      for (const other of parked) {
        if (back.has(other.id) || !other.lastError?.startsWith('DEPENDENCY_FAILED')) continue;
        if (referencedIds(other.params).some((r) => back.has(r))) {
          back.add(other.id);
          grew = true;
        }
      }
    }
    const at = now();
    const items = [item, ...parked.filter((p) => p.id !== id && back.has(p.id))];
    await store.outbox.updateMany(items.map((i): OutboxItem => ({
      ...i, status: 'pending', attempts: 0, nextAttemptAt: at, delivered: undefined,
    })));
    log.info({ portal, itemId: id, count: items.length }, 'parked outbox items put back in the queue');
    wake(portal);
  }

  function stats(portal: string): OutboxStats {
    const pending = store.outbox.pending(portal);
    const oldest = pending.reduce<number | undefined>((min, i) => (min === undefined || i.createdAt < min ? i.createdAt : min), undefined);
    return {
      pending: pending.length,
      failed: store.outbox.failed(portal).length,
      ...(oldest !== undefined ? { oldestPendingAt: oldest } : {}),
      sentRequests: requests.get(portal) ?? 0,
    };
  }

  async function idle(portal: string, timeoutMs = 30_000): Promise<void> {
    const worker = workerFor(portal);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(idleTimeout(portal, timeoutMs)), timeoutMs);
    });
    try {
      await Promise.race([worker.whenIdle(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Tells handlers about results stored while they were not registered (a crash, or registration after start()). */
  const deliverLate = (filter: (item: OutboxItem) => boolean): void => {
    const late = store.outbox.undelivered().filter(filter);
    if (late.length === 0) return;
    void (async () => {
      for (const item of late) {
        if (item.status === 'done') await delivery.deliverDone(item);
        else await delivery.deliverFailed(item);
      }
    })().catch((err: unknown) => log.error({ err }, 'could not tell outbox handlers about earlier results'));
  };

  return {
    enqueue,
    onResult: (name, handler) => {
      delivery.registerDone(name, handler);
      if (started) deliverLate((i) => i.status === 'done' && i.onDone === name);
    },
    onParked: (name, handler) => {
      delivery.registerFailed(name, handler);
      if (started) deliverLate((i) => i.status === 'failed' && i.onFailed === name);
    },
    stats,
    failed: (portal) => store.outbox.failed(portal),
    retry,
    idle,
    /** Looks at the portal again now (after a reinstall cleared needsReinstall). */
    resume: (portal) => {
      if (started) workerFor(portal).resume();
    },
    /** Another instance takes the portal over: its worker stops, its sends out are answered and recorded first. */
    async stopPortal(portal) {
      const worker = workers.get(portal);
      if (!worker) return;
      workers.delete(portal);
      await worker.stop();
    },
    start() {
      if (started) return;
      started = true;
      // Results that arrived before a crash but whose handler was not told yet (handlers not registered yet are
      // told when they register).
      deliverLate((i) => delivery.has(i));
      for (const portal of store.outbox.portalsWithPending()) wake(portal);
    },
    async stop() {
      started = false;
      await Promise.all([...workers.values()].map((w) => w.stop()));
      workers.clear();
    },
  };
}
