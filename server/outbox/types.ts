import type { OutboxItem } from '../store/records.js';

/** What a producer (calls/, contacts/, portals/) hands the outbox: the item's own fields, the queue's state left out. */
export type NewOutboxItem = Pick<OutboxItem, 'portal' | 'group' | 'method' | 'params' | 'key' | 'onDone' | 'onFailed' | 'meta'> & {
  /** Client-chosen id, so later items in the same enqueue can reference it with `ref(id, ...)`. */
  id?: string;
};

/** A parameter value standing for a field of an earlier item's result. */
export interface ResultRef {
  $ref: string;
  path: (string | number)[];
}

export const ref = (itemId: string, ...path: (string | number)[]): ResultRef => ({ $ref: itemId, path });

export type OutboxResultHandler = (item: OutboxItem, result: unknown) => Promise<void> | void;
export type OutboxFailureHandler = (item: OutboxItem, error: string) => Promise<void> | void;

export interface OutboxStats {
  pending: number;
  failed: number;
  oldestPendingAt?: number;
  sentRequests: number;
}

export interface Outbox {
  /** Persists the items, then wakes the portal's worker. Resolves once durable. */
  enqueue(items: NewOutboxItem[]): Promise<OutboxItem[]>;
  /** Handlers are registered by name at boot so results still reach them after a restart. */
  onResult(name: string, handler: OutboxResultHandler): void;
  onParked(name: string, handler: OutboxFailureHandler): void;
  stats(portal: string): OutboxStats;
  failed(portal: string): OutboxItem[];
  /** Puts a parked item back in the queue (admin's retry button). */
  retry(portal: string, id: string): Promise<void>;
  /** Resolves when the portal's queue is empty (tests, shutdown). */
  idle(portal: string, timeoutMs?: number): Promise<void>;
  /** Looks at the portal again now, forgetting a wait (after a re-install cleared needsReinstall). Optional: additive. */
  resume?(portal: string): void;
  /** Stops the portal's worker (another instance owns the portal now: server/cluster/). Optional: additive. */
  stopPortal?(portal: string): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}
