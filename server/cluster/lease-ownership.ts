import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { createConcurrencyLimit } from '../concurrency-limit.js';
import { createKeyedSerial } from '../keyed-serial.js';
import type { Logger } from '../log.js';
import type { StoreDatabase } from '../store/types.js';
import { fairShare } from './fair-share.js';
import { heartbeat, leaveCluster, releaseLeases, renewLeases, takeLeases } from './lease-table.js';
import { tell, type Ownership } from './ownership.js';

/**
 * Time as the lease manager sees it: a monotonic clock (performance.now(), which a changed wall clock does not move)
 * and one-shot timers. Injected by tests to pause an instance as SIGSTOP would: its timers stop firing while the
 * clock runs on.
 */
export interface LeaseClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): { cancel(): void };
}

export const monotonicClock: LeaseClock = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};

export interface LeaseOwnershipOptions {
  databaseUrl: string;
  instanceId: string;
  /** How long a lease lasts unrenewed (LEASE_TTL_MS); renewed and rescanned every third of it. */
  ttlMs: number;
  log: Logger;
  /** The store's fencing: every owner write of a portal carries the epoch set here (store/postgres/db.ts). */
  fencing?: Pick<StoreDatabase, 'setEpoch'>;
  clock?: LeaseClock;
  /** owns() turns false this long before the lease's expiry. Default a fifth of the TTL. */
  marginMs?: number;
  /** Portals whose live work starts or stops at the same time (default 16): a hand-over of hundreds is paced. */
  handoverConcurrency?: number;
}

interface Held {
  epoch: number;
  /** Monotonic time until which owns() is true: taken or renewed at t0 (before the query left) + TTL - margin. */
  validUntil: number;
  /** Being given up: owns() is false already, live work is stopping, the lease is kept until it has stopped. */
  releasing: boolean;
}

/**
 * Portal ownership over row leases in PostgreSQL with fencing (design §6).
 *
 * Every TTL/3 the instance beats its heartbeat, renews the leases it holds (one UPDATE; a row missing from the answer
 * is a lease lost), takes leases that ran out up to its fair share (portals ÷ live instances, so a new instance gets
 * work and a dead one's portals are taken within about a TTL), and gives up what is above its share — live work
 * stopped first, then the row released.
 *
 * Expiry in SQL is the database's clock; owns() is this process's monotonic clock: a lease renewed at local time t0
 * is trusted until t0 + TTL - margin, measured from before the query left, so it ends before the database's
 * expiry. A process that was paused (SIGSTOP, a long GC) and wakes up finds owns() false at once, before any timer
 * of its own ran; and a timer at that deadline stops the portal's live work even when the database cannot be
 * reached to say so. A database outage therefore stops live work at the deadline, crashes nothing, and the leases
 * are taken again (with a new epoch) when it is back.
 */
export function createLeaseOwnership(opts: LeaseOwnershipOptions): Ownership {
  const { instanceId, ttlMs } = opts;
  const clock = opts.clock ?? monotonicClock;
  const marginMs = opts.marginMs ?? Math.max(100, Math.round(ttlMs / 5));
  const scanEveryMs = Math.max(100, Math.round(ttlMs / 3));
  // The composition root's log names the instance already (server/index.ts).
  const log = opts.log.child({ part: 'cluster' });
  const pool = new pg.Pool({
    connectionString: opts.databaseUrl, max: 2,
    // A lease query that hangs (the database's port blocked) must end before the lease does.
    connectionTimeoutMillis: scanEveryMs, query_timeout: scanEveryMs, idleTimeoutMillis: 30_000,
  });
  pool.on('error', () => undefined);

  const gainedListeners: ((memberId: string, epoch: number) => void | Promise<void>)[] = [];
  const lostListeners: ((memberId: string) => void | Promise<void>)[] = [];
  const held = new Map<string, Held>();
  /** Listeners of one portal run in order: its live work is stopped before it is started again, never beside. */
  const perPortal = createKeyedSerial();
  /** Starting or stopping a portal's live work, paced: taking or giving up 500 leases must not stall every other portal. */
  const pace = createConcurrencyLimit(opts.handoverConcurrency ?? 16);
  let instances = 1;
  let changes = 0;
  let closed = false;
  let scanTimer: { cancel(): void } | undefined;
  let deadlineTimer: { cancel(): void } | undefined;
  let scanning: Promise<void> | undefined;
  let failing = false;

  const listenerFailed = (memberId: string) => (err: unknown): void => {
    log.error({ portal: memberId, err }, 'portal ownership listener failed');
  };

  const owns = (memberId: string): boolean => {
    const lease = held.get(memberId);
    return lease !== undefined && !lease.releasing && clock.now() < lease.validUntil;
  };

  const holds = (memberId: string): boolean => {
    const lease = held.get(memberId);
    return lease !== undefined && clock.now() < lease.validUntil;
  };

  function gain(memberId: string, epoch: number, validUntil: number): void {
    held.set(memberId, { epoch, validUntil, releasing: false });
    changes += 1;
    void perPortal.run(memberId, () => pace.run(async () => {
      // Lost again before its turn came: nothing to start.
      if (held.get(memberId)?.epoch !== epoch) return;
      opts.fencing?.setEpoch(memberId, epoch);
      await tell(gainedListeners, [memberId, epoch], listenerFailed(memberId));
    }));
  }

  /** Found lost (taken by another, run out, the portal removed): owns() is false from now; live work stops. */
  function lose(memberId: string, lease: Held, why: string): void {
    if (held.get(memberId) !== lease) return;
    held.delete(memberId);
    changes += 1;
    log.warn({ portal: memberId, epoch: lease.epoch, why }, 'portal lease lost; its live work stops');
    void perPortal.run(memberId, () => pace.run(async () => {
      await tell(lostListeners, [memberId], listenerFailed(memberId));
      if (!held.has(memberId)) opts.fencing?.setEpoch(memberId, undefined);
    }));
  }

  /** Gives a lease up: live work stopped first (owns() false meanwhile, the lease still renewed), then released. */
  function release(memberId: string, lease: Held): Promise<void> {
    lease.releasing = true;
    changes += 1;
    return perPortal.run(memberId, () => pace.run(async () => {
      await tell(lostListeners, [memberId], listenerFailed(memberId));
      if (held.get(memberId) === lease) {
        try {
          await releaseLeases(pool, instanceId, [{ memberId, epoch: lease.epoch }]);
        } catch (err) {
          // It runs out by itself within the TTL.
          log.warn({ portal: memberId, err }, 'portal lease not released; it runs out by itself');
        }
        held.delete(memberId);
      }
      if (!held.has(memberId)) opts.fencing?.setEpoch(memberId, undefined);
    }));
  }

  /** Leases whose local deadline passed are lost, whatever the database would say (it may be unreachable). */
  function expireLocally(): void {
    const now = clock.now();
    for (const [memberId, lease] of held) {
      if (!lease.releasing && now >= lease.validUntil) lose(memberId, lease, 'not renewed before its deadline');
    }
    armDeadline();
  }

  function armDeadline(): void {
    deadlineTimer?.cancel();
    deadlineTimer = undefined;
    if (closed) return;
    let earliest = Infinity;
    for (const lease of held.values()) if (!lease.releasing) earliest = Math.min(earliest, lease.validUntil);
    if (earliest === Infinity) return;
    deadlineTimer = clock.setTimeout(expireLocally, Math.max(0, earliest - clock.now()));
  }

  async function scanOnce(): Promise<void> {
    expireLocally();
    const counts = await heartbeat(pool, instanceId, ttlMs);
    instances = counts.instances;

    const toRenew = [...held].map(([memberId, lease]) => ({ memberId, lease }));
    if (toRenew.length > 0) {
      const t0 = clock.now();
      const renewed = await renewLeases(pool, instanceId, toRenew.map(({ memberId, lease }) => ({ memberId, epoch: lease.epoch })), ttlMs);
      const still = new Map(renewed.map((r) => [r.memberId, r.epoch]));
      for (const { memberId, lease } of toRenew) {
        if (held.get(memberId) !== lease) continue;
        if (still.get(memberId) === lease.epoch) lease.validUntil = t0 + ttlMs - marginMs;
        else if (lease.releasing) held.delete(memberId);
        else lose(memberId, lease, 'taken over, run out or the portal removed');
      }
    }

    const share = fairShare(counts.portals, counts.instances);
    const active = [...held].filter(([, lease]) => !lease.releasing);
    if (active.length < share && !closed) {
      const t0 = clock.now();
      const taken = await takeLeases(pool, instanceId, share - active.length, [...held.keys()], ttlMs);
      for (const row of taken) gain(row.memberId, row.epoch, t0 + ttlMs - marginMs);
      if (taken.length > 0) log.info({ taken: taken.length, owned: active.length + taken.length, share, instances: counts.instances }, 'portal leases taken');
    } else if (active.length > share) {
      const surplus = active.slice(share);
      log.info({ releasing: surplus.length, share, instances: counts.instances }, 'portal leases above the fair share given up');
      for (const [memberId, lease] of surplus) void release(memberId, lease);
    }
    armDeadline();
  }

  function scan(): Promise<void> {
    scanning ??= scanOnce()
      .then(() => {
        if (failing) log.info('lease database reachable again');
        failing = false;
      })
      .catch((err: unknown) => {
        // Logged once per outage: the deadline timer stops live work; the next scan tries again.
        if (!failing) log.warn({ err }, 'lease scan failed; owned portals stop at their lease deadline unless renewed');
        failing = true;
      })
      .finally(() => {
        scanning = undefined;
      });
    return scanning;
  }

  function scheduleScan(ms: number): void {
    scanTimer?.cancel();
    if (closed) return;
    scanTimer = clock.setTimeout(() => {
      void scan().finally(() => scheduleScan(scanEveryMs));
    }, ms);
  }

  return {
    instanceId,
    owns,
    holds,
    epoch: (memberId) => held.get(memberId)?.epoch,
    onGained: (listener) => { gainedListeners.push(listener); },
    onLost: (listener) => { lostListeners.push(listener); },
    stats: () => ({ owned: [...held.values()].filter((l) => !l.releasing).length, leaseChanges: changes, instances }),
    async start() {
      await scan();
      // Renewal runs from now on, before the first portals' live work is awaited: starting hundreds of links may take
      // longer than a lease lasts.
      scheduleScan(scanEveryMs);
      // The first portals' live work is started before start() returns, as a single instance's is.
      await perPortal.idle();
    },
    async portalAdded() {
      // At once (the install's portal row is committed before this is called): the admin's next step, saving the PBX
      // settings, must find the portal owned here (or by another instance) so that its link opens with the save.
      if (closed) return;
      await scanning;
      await scan();
      await perPortal.idle();
    },
    async close() {
      if (closed) return;
      closed = true;
      scanTimer?.cancel();
      deadlineTimer?.cancel();
      await scanning;
      // Every portal's live work stopped first (side by side), then every lease released in one statement: a stop
      // while the database is unreachable costs one timeout, not one per portal (the leases then run out by themselves).
      const all = [...held].filter(([, lease]) => !lease.releasing);
      for (const [, lease] of all) {
        lease.releasing = true;
        changes += 1;
      }
      await Promise.all(all.map(([memberId]) => perPortal.run(memberId, () => tell(lostListeners, [memberId], listenerFailed(memberId)))));
      await perPortal.idle();
      const still = all.filter(([memberId, lease]) => held.get(memberId) === lease);
      await releaseLeases(pool, instanceId, still.map(([memberId, lease]) => ({ memberId, epoch: lease.epoch })))
        .catch((err: unknown) => log.warn({ err }, 'portal leases not released; they run out by themselves'));
      for (const [memberId] of still) {
        held.delete(memberId);
        opts.fencing?.setEpoch(memberId, undefined);
      }
      await leaveCluster(pool, instanceId).catch((err: unknown) => log.warn({ err }, 'instance row not removed; it is forgotten after an hour'));
      await pool.end().catch(() => undefined);
    },
  };
}
