import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { createLeaseOwnership, type LeaseClock } from '../../../server/cluster/lease-ownership.js';
import type { Ownership } from '../../../server/cluster/ownership.js';
import { openPostgresStore } from '../../../server/store/postgres/index.js';
import type { Store } from '../../../server/store/types.js';
import { postgresForThisFile } from '../../support/postgres-for-file.js';
import { queryRows as sql } from '../../support/postgres.js';
import { captureLog, makeCall, makePortal, TEST_KEY } from '../../unit/store/helpers.js';

/**
 * The lease manager (server/cluster/lease-ownership.ts) on a real PostgreSQL: several Ownership instances in one
 * process share one database. (The multi-process SIGKILL/SIGSTOP test is test/integration/cluster/fault-*.spec.ts.)
 * No wall-clock assertion: each expectation is polled until it holds, with a generous bound for a loaded machine.
 */

const TTL_MS = 3_000;
const cluster = postgresForThisFile();
let cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  cleanups = [];
});

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A clock whose timers can be held back, as SIGSTOP holds a process's: time runs on, nothing fires until resume. */
function pausableClock(): { clock: LeaseClock; pause(): void; resume(): void } {
  let paused = false;
  const held: { fn: () => void; cancelled: () => boolean }[] = [];
  return {
    clock: {
      now: () => performance.now(),
      setTimeout(fn, ms) {
        let cancelled = false;
        const timer = setTimeout(() => {
          if (cancelled) return;
          if (paused) held.push({ fn, cancelled: () => cancelled });
          else fn();
        }, ms);
        return { cancel: () => { cancelled = true; clearTimeout(timer); } };
      },
    },
    pause: () => { paused = true; },
    resume() {
      paused = false;
      for (const h of held.splice(0)) if (!h.cancelled()) h.fn();
    },
  };
}

interface Member {
  ownership: Ownership;
  events: string[];
  gained: Map<string, number>;
  store?: Store;
}

async function portalsIn(url: string, count: number): Promise<string[]> {
  const store = await openPostgresStore({ databaseUrl: url, secretKey: TEST_KEY, log: captureLog().log });
  const ids = Array.from({ length: count }, (_, i) => `m${i + 1}`);
  for (const id of ids) await store.portals.put(makePortal(id));
  await store.close();
  return ids;
}

async function member(url: string, name: string, opts: { clock?: LeaseClock; withStore?: boolean } = {}): Promise<Member> {
  const store = opts.withStore ? await openPostgresStore({ databaseUrl: url, secretKey: TEST_KEY, log: captureLog().log }) : undefined;
  const ownership = createLeaseOwnership({
    databaseUrl: url, instanceId: name, ttlMs: TTL_MS, log: captureLog().log,
    ...(store?.database ? { fencing: store.database } : {}), ...(opts.clock ? { clock: opts.clock } : {}),
  });
  const m: Member = { ownership, events: [], gained: new Map(), ...(store ? { store } : {}) };
  ownership.onGained((memberId, epoch) => {
    m.events.push(`+${memberId}@${epoch}`);
    m.gained.set(memberId, epoch);
  });
  ownership.onLost((memberId) => {
    m.events.push(`-${memberId}`);
    m.gained.delete(memberId);
  });
  cleanups.push(async () => {
    await ownership.close();
    await store?.close();
  });
  return m;
}

const owners = (members: Member[], portal: string): string[] => members.filter((m) => m.ownership.owns(portal)).map((m) => m.ownership.instanceId);
const leaseRows = (url: string) => sql<{ member_id: string; owner: string; epoch: string }>(url, 'SELECT member_id, owner, epoch FROM portal_leases ORDER BY member_id');

describe('portal leases on PostgreSQL', () => {
  it('splits the portals fairly between the live instances, each portal owned by exactly one', async () => {
    const url = await cluster.createDatabase();
    const portals = await portalsIn(url, 6);
    const a = await member(url, 'a');
    await a.ownership.start();
    // Alone, it takes every portal in its first scan, and start() returns once their live work was started.
    expect(a.gained.size).toBe(6);
    expect(a.ownership.stats()).toMatchObject({ owned: 6, instances: 1 });

    const b = await member(url, 'b');
    await b.ownership.start();
    const c = await member(url, 'c');
    await c.ownership.start();
    const all = [a, b, c];
    await until('each of three instances owns two portals', () => all.every((m) => m.ownership.stats().owned === 2 && m.gained.size === 2));
    for (const p of portals) expect(owners(all, p)).toHaveLength(1);
    const rows = await leaseRows(url);
    expect(new Set(rows.map((r) => r.owner))).toEqual(new Set(['a', 'b', 'c']));
    for (const m of all) expect(m.ownership.stats().instances).toBe(3);
    // A portal given up by `a` was stopped there before `b` or `c` started it: never two owners' live work at once.
    for (const p of portals) {
      const holders = all.filter((m) => m.gained.has(p));
      expect(holders).toHaveLength(1);
    }
  }, 90_000);

  it('one instance closes: the other takes all its portals, each with a new epoch, and the closed one stopped them first', async () => {
    const url = await cluster.createDatabase();
    const portals = await portalsIn(url, 4);
    const a = await member(url, 'a');
    const b = await member(url, 'b');
    await a.ownership.start();
    await b.ownership.start();
    await until('two portals each', () => a.ownership.stats().owned === 2 && b.ownership.stats().owned === 2);
    const before = new Map((await leaseRows(url)).map((r) => [r.member_id, Number(r.epoch)]));
    const ofA = portals.filter((p) => a.ownership.owns(p));
    const seen = a.events.length;

    await a.ownership.close();
    // close() resolves once a's live work stopped and its rows are released.
    expect(a.events.slice(seen).sort()).toEqual(ofA.map((p) => `-${p}`).sort());
    expect((await leaseRows(url)).filter((r) => r.owner === 'a')).toEqual([]);
    expect(a.ownership.stats().owned).toBe(0);
    await until('b owns every portal', () => portals.every((p) => b.ownership.owns(p)));
    const after = new Map((await leaseRows(url)).map((r) => [r.member_id, Number(r.epoch)]));
    for (const p of ofA) {
      expect(after.get(p)).toBe((before.get(p) ?? 0) + 1);
      expect(b.gained.get(p)).toBe(after.get(p));
    }
    expect((await sql(url, 'SELECT instance_id FROM instances')).map((r) => r.instance_id)).toEqual(['b']);
  }, 90_000);

  it('a paused owner: owns() is false after its local deadline before any of its timers ran, its writes are refused once another took over, and it stops on waking', async () => {
    const url = await cluster.createDatabase();
    const [portal = ''] = await portalsIn(url, 1);
    const pausable = pausableClock();
    const a = await member(url, 'a', { clock: pausable.clock, withStore: true });
    await a.ownership.start();
    const epochA = a.ownership.epoch(portal) ?? -1;
    expect(a.ownership.owns(portal)).toBe(true);
    // The owner's writes carry its epoch and land.
    await a.store?.calls.put(makeCall(portal, 'c1', { talkSeconds: 1 }));

    pausable.pause();
    await until('the paused owner no longer trusts its lease', () => !a.ownership.owns(portal));
    // Its deadline timer was held back too: nothing was told, only owns() knows.
    expect(a.events).toEqual([`+${portal}@${epochA}`]);

    const b = await member(url, 'b', { withStore: true });
    await b.ownership.start();
    await until('b takes the portal over', () => b.ownership.owns(portal));
    expect(b.ownership.epoch(portal)).toBe(epochA + 1);
    await b.store?.database?.reloadPortal(portal);
    expect(b.store?.calls.get(portal, 'c1')?.talkSeconds).toBe(1);

    // The woken owner still holds its old epoch: whatever it writes for the portal is refused and changes nothing.
    await expect(a.store?.calls.put(makeCall(portal, 'c1', { talkSeconds: 99 }))).rejects.toThrow(/PORTAL_LEASE_LOST/);
    await b.store?.calls.put(makeCall(portal, 'c1', { talkSeconds: 2 }));
    pausable.resume();
    await until('the woken owner stops the portal', () => a.events.includes(`-${portal}`));
    expect(a.ownership.owns(portal)).toBe(false);
    expect(b.ownership.owns(portal)).toBe(true);
    expect(await sql(url, `SELECT (record->>'talkSeconds')::int AS talk FROM calls`)).toEqual([{ talk: 2 }]);
  }, 90_000);

  it('the epoch increases with every change of owner, and only then', async () => {
    const url = await cluster.createDatabase();
    const [portal = ''] = await portalsIn(url, 1);
    const epochs: number[] = [];
    for (const name of ['a', 'b', 'c']) {
      const m = await member(url, name);
      await m.ownership.start();
      await until(`${name} owns the portal`, () => m.ownership.owns(portal));
      const epoch = m.ownership.epoch(portal) ?? -1;
      // Several renewals later the epoch is unchanged.
      await new Promise((resolve) => setTimeout(resolve, TTL_MS));
      expect(m.ownership.epoch(portal)).toBe(epoch);
      expect(Number((await leaseRows(url))[0]?.epoch)).toBe(epoch);
      epochs.push(epoch);
      await m.ownership.close();
    }
    expect(epochs).toEqual([epochs[0], (epochs[0] ?? 0) + 1, (epochs[0] ?? 0) + 2]);
  }, 90_000);

  // Last in the file: it stops the shared PostgreSQL server for a while.
  it('a database outage: owns() turns false and live work stops by the deadline, nothing crashes, and the leases come back with a new epoch', async () => {
    const url = await cluster.createDatabase();
    const portals = await portalsIn(url, 2);
    const a = await member(url, 'a');
    await a.ownership.start();
    const before = new Map(portals.map((p) => [p, a.ownership.epoch(p) ?? -1]));
    await cluster.pause();
    try {
      await until('live work stopped for every portal', () => portals.every((p) => a.events.includes(`-${p}`)));
      for (const p of portals) expect(a.ownership.owns(p)).toBe(false);
      expect(a.ownership.stats().owned).toBe(0);
    } finally {
      await cluster.start();
    }
    await until('the portals are owned again', () => portals.every((p) => a.ownership.owns(p)));
    for (const p of portals) {
      // Taken again, not renewed: whatever the instance wrote with the old epoch is refused from now on.
      expect(a.ownership.epoch(p)).toBe((before.get(p) ?? 0) + 1);
      expect(a.events.filter((e) => e.startsWith(`+${p}@`))).toHaveLength(2);
    }
  }, 90_000);
});
