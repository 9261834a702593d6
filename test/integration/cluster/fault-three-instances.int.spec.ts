import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../foundation/server-under-test.js';
import { isLogged, isRegistered, ledger, once, startCall, type TrackedCall } from './support/calls.js';
import { startCluster, type ClusterPortal, type ClusterStack, type Lease } from './support/cluster.js';
import { actsAfterLoss, actsBeforeLoss, watchLinks } from './support/fencing.js';
import type { Instance } from './support/instance.js';

/**
 * Issue 14, the fault test: three instances of the real product on one PostgreSQL, 20 portals, one PBX each, a
 * round-robin front as PUBLIC_URL. An owner is SIGKILLed in the middle of calls, SIGSTOPped past its lease and woken,
 * and cut off from the database past its lease; every call is logged in Bitrix24 exactly once with its recording,
 * every portal is owned again within the bound, and an instance that lost a portal sends and writes nothing for it.
 *
 * How the test knows who did what (the emulators see the same URLs from every instance): each instance journals and
 * tags its outbound requests (support/outbound-tag.ts, preloaded into the instance process only), names itself to
 * PostgreSQL (application_name), and a trigger the test installs records every row change with that name
 * (support/audit.ts). The bound on a takeover is the lease's: TTL + one renewal interval + slack for a loaded 2-core
 * CI machine; the test asserts the event "owned again" within it, never a tighter duration.
 */

const PORTALS = 20;
const LEASE_TTL_MS = 3_000;
/** TTL + the renewal interval (TTL/3) + slack for start-up of the new owner's scan on a loaded machine. */
const OWNED_AGAIN_BOUND_MS = LEASE_TTL_MS + LEASE_TTL_MS / 3 + 5_000;
const LOGGED_WITHIN_MS = 30_000;

let stack: ClusterStack;

/** Instances that can hold leases: their process runs (not killed, not stopped), whether the front uses them or not. */
function liveIds(): Set<string> {
  return new Set(stack.alive().map((i) => i.id));
}

function ownersOf(leases: readonly Lease[], live: ReadonlySet<string>): Map<string, string[]> {
  const by = new Map<string, string[]>();
  for (const l of leases) {
    if (!l.live || !live.has(l.owner)) continue;
    by.set(l.owner, [...(by.get(l.owner) ?? []), l.memberId]);
  }
  return by;
}

/** Portals without a live lease held by one of `live` (empty: every portal is owned). */
async function unowned(live: ReadonlySet<string>): Promise<string[]> {
  const leases = await stack.leases();
  return stack.portals.map((p) => p.memberId).filter((m) => !leases.some((l) => l.memberId === m && l.live && live.has(l.owner)));
}

async function expectOwnedAgain(live: ReadonlySet<string>, boundMs: number): Promise<void> {
  let missing: string[] = [];
  try {
    await eventually(async () => (missing = await unowned(live)).length === 0, boundMs, 100);
  } catch {
    expect(missing, `portals not owned by a live instance (${[...live].join(', ')}) within ${boundMs} ms`).toEqual([]);
  }
}

/** The live instance owning most portals, and those portals. */
async function biggestOwner(): Promise<{ instance: Instance; portals: ClusterPortal[] }> {
  const by = ownersOf(await stack.leases(), liveIds());
  const [owner, members] = [...by.entries()].sort((a, b) => b[1].length - a[1].length)[0] ?? ['', []];
  const instance = stack.alive().find((i) => i.id === owner);
  expect(instance, `no live instance holds a lease (portal_leases: ${JSON.stringify(await stack.leases())})`).toBeDefined();
  if (!instance) throw new Error('unreachable');
  return { instance, portals: stack.portals.filter((p) => members.includes(p.memberId)) };
}

async function waitRegistered(calls: readonly TrackedCall[]): Promise<void> {
  await eventually(async () => (await Promise.all(calls.map((c) => isRegistered(stack.b24, c)))).every(Boolean), 15_000, 100);
}

/**
 * Until each call's register is stored as answered. A kill between Bitrix24's answer and that write makes the next
 * owner send the register once more — at-least-once by design (outbox/worker.ts `apply`; Bitrix24 answers the same
 * CALL_ID, one card) — which is not the case this test is about: calls in the middle, their registers settled.
 */
async function waitRegisterAnswersStored(calls: readonly TrackedCall[]): Promise<void> {
  await eventually(async () => {
    const rows = await stack.query<{ n: string }>(
      `SELECT count(*) AS n FROM outbox WHERE lower(item->>'method') = 'telephony.externalcall.register' AND status <> 'done'
         AND (${calls.map((_, i) => `item->'params'->>'EXTERNAL_CALL_ID' LIKE $${i + 1}`).join(' OR ')})`,
      calls.map((c) => `${c.callId}-%`));
    return Number(rows[0]?.n ?? 1) === 0;
  }, 15_000, 50);
}

/** Every call finished with its recording in Bitrix24, then (after a quiet second for late duplicates) exactly once. */
async function expectLoggedOnce(calls: readonly TrackedCall[]): Promise<void> {
  try {
    await eventually(async () => (await Promise.all(calls.map((c) => isLogged(stack.b24, c)))).every(Boolean), LOGGED_WITHIN_MS, 200);
  } catch {
    // Fall through: the ledger below names the calls that are missing and what they lack.
  }
  await new Promise((r) => setTimeout(r, 1_500));
  const ledgers = await Promise.all(calls.map((c) => ledger(stack.b24, c)));
  expect(ledgers).toEqual(calls.map(once));
}

async function metricValue(instance: Instance, name: string): Promise<number | undefined> {
  const text = await instance.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(/\s+/).pop());
}

/** Each PBX ends up with exactly one link (the owner's). */
async function expectOneLinkPerPbx(): Promise<void> {
  let counts: number[] = [];
  try {
    await eventually(async () => {
      counts = await Promise.all(stack.portals.map(async (p) => (await p.pbx.sockets()).length));
      return counts.every((n) => n === 1);
    }, 15_000, 200);
  } catch {
    expect(counts, 'sockets per PBX').toEqual(stack.portals.map(() => 1));
  }
}

describe('three instances on one PostgreSQL: no call lost or sent twice when one dies, freezes or loses the database', () => {
  beforeAll(async () => {
    stack = await startCluster({ portals: PORTALS, instances: ['fault-a', 'fault-b', 'fault-c'], leaseTtlMs: LEASE_TTL_MS });
  }, 150_000);

  afterAll(async () => {
    await stack?.stop();
  }, 60_000);

  it('the three instances share the 20 portals: each owned by one of them, one PBX link each', async () => {
    await expectOwnedAgain(liveIds(), OWNED_AGAIN_BOUND_MS * 2);
    await expectOneLinkPerPbx();
    // Every instance reached PostgreSQL through its own proxy (the network-cut case relies on it).
    for (const i of stack.alive()) expect(i.proxy.forwarded, `${i.id} never used its database proxy`).toBeGreaterThan(0);
  }, 60_000);

  it('SIGKILL of the owner of most portals in the middle of calls: every call logged exactly once with its recording, every portal owned again within the bound', async () => {
    const { instance: victim, portals: victims } = await biggestOwner();
    expect(victims.length).toBeGreaterThan(0);
    const others = stack.portals.filter((p) => !victims.includes(p)).slice(0, 2);
    const calls = await Promise.all([
      ...victims.slice(0, 4).map((p, n) => startCall(p, n % 2 === 0 ? 'talking' : 'ringing')),
      ...others.map((p) => startCall(p, 'talking')),
    ]);
    await waitRegistered(calls);
    await waitRegisterAnswersStored(calls);

    try {
      stack.markDown(victim);
      await victim.kill();
      // The calls end while their owner is dead: the new owner must log them from the durable state and the PBX.
      await Promise.all(calls.map((c) => c.portal.pbx.continue(c.callId)));

      const survivors = liveIds();
      await expectOwnedAgain(survivors, OWNED_AGAIN_BOUND_MS);
      await expectLoggedOnce(calls);
      await expectOneLinkPerPbx();

      // /metrics of the survivors: together they own every portal, and each counted the lease changes it made.
      const owned = await Promise.all(stack.alive().map((i) => metricValue(i, 'pbxb24_portals_owned')));
      expect(owned.reduce<number>((n, v) => n + (v ?? 0), 0), `portals_owned per survivor: ${JSON.stringify(owned)}`).toBe(PORTALS);
      const changes = await Promise.all(stack.alive().map((i) => metricValue(i, 'pbxb24_lease_changes_total')));
      expect(changes.reduce<number>((n, v) => n + (v ?? 0), 0)).toBeGreaterThanOrEqual(victims.length);
    } finally {
      // Back to three instances for the next cases: a fresh one joins (the dead one's id is not reused).
      if (victim.exited) await stack.addInstance('fault-d');
    }
  }, 120_000);

  it('SIGSTOP of an owner past its lease, takeover, SIGCONT: the woken instance sends and writes nothing for the portals it lost, no PBX has two live links', async () => {
    const { instance: victim, portals: lost } = await biggestOwner();
    const held = await Promise.all(lost.slice(0, 3).map((p) => startCall(p, 'talking')));
    await waitRegistered(held);
    const links = watchLinks(stack);
    try {
      stack.markDown(victim);
      const stoppedAt = Date.now();
      victim.pause();
      const rest = new Set([...liveIds()].filter((id) => id !== victim.id));
      await expectOwnedAgain(rest, OWNED_AGAIN_BOUND_MS);
      // Calls go on under the new owners while the old one is frozen: the held ones end, new ones come and end.
      await Promise.all(held.map((c) => c.portal.pbx.continue(c.callId)));
      const during = await Promise.all(lost.slice(0, 2).map((p) => startCall(p, 'none')));
      await expectLoggedOnce([...held, ...during]);

      const wokeAt = Date.now();
      expect(wokeAt - stoppedAt).toBeGreaterThan(LEASE_TTL_MS);
      victim.resume();
      // A woken owner needs one look at its clock to know; give it two lease periods to do anything it should not.
      const after = await Promise.all(lost.slice(0, 2).map((p) => startCall(p, 'none')));
      await new Promise((r) => setTimeout(r, LEASE_TTL_MS * 2));
      await expectLoggedOnce(after);
      const { doubles, samples } = await links.stop();
      expect(samples).toBeGreaterThan(5);

      // The journal, the PBX's log and the audit saw this instance act for these portals while it owned them...
      const before = await actsBeforeLoss(stack, victim, lost, stoppedAt);
      expect(Math.min(before.sends, before.pbxRequests, before.writes), JSON.stringify(before)).toBeGreaterThan(0);
      // ...and nothing after it woke; every kind of act at once, so a failure names all of them.
      const acts = await actsAfterLoss(stack, victim, lost, { lostAt: stoppedAt, from: wokeAt });
      expect({ ...acts, doubleLinks: doubles }, `what ${victim.id} did after it woke for the ${lost.length} portals it lost`).toEqual({
        sends: [], pbxRequests: [], writes: [], notTakenOver: [], doubleLinks: [],
      });
      // Its frozen link was closed or stayed silent: after the settle, one link per PBX again.
      await expectOneLinkPerPbx();
    } finally {
      await links.stop();
      if (victim.paused) victim.resume();
      stack.markUp(victim);
    }
  }, 120_000);

  it('network cut between one instance and the database past its lease, then restored: no double sends, no lost calls', async () => {
    const { instance: victim, portals: lost } = await biggestOwner();
    const calls = await Promise.all(lost.slice(0, 3).map((p, n) => startCall(p, n === 0 ? 'ringing' : 'talking')));
    await waitRegistered(calls);
    const links = watchLinks(stack);
    const cutAt = Date.now();
    try {
      victim.proxy.cut();
      const rest = new Set([...liveIds()].filter((id) => id !== victim.id));
      // The instance still answers HTTP (only its database is gone), so the front keeps it: requests it gets must not
      // make it act for portals it can no longer prove it owns.
      await expectOwnedAgain(rest, OWNED_AGAIN_BOUND_MS);
      await Promise.all(calls.map((c) => c.portal.pbx.continue(c.callId)));
      const during = await Promise.all(lost.slice(0, 2).map((p) => startCall(p, 'none')));
      // Longer than the lease in all, then the road to the database comes back.
      await new Promise((r) => setTimeout(r, Math.max(0, cutAt + LEASE_TTL_MS * 2 - Date.now())));
      victim.proxy.restore();

      await expectLoggedOnce([...calls, ...during]);
      const after = await Promise.all(stack.portals.slice(0, 3).map((p) => startCall(p, 'none')));
      await expectLoggedOnce(after);
      await expectOwnedAgain(liveIds(), OWNED_AGAIN_BOUND_MS);
      const { doubles } = await links.stop();

      const before = await actsBeforeLoss(stack, victim, lost, cutAt);
      expect(Math.min(before.sends, before.pbxRequests, before.writes), JSON.stringify(before)).toBeGreaterThan(0);
      const acts = await actsAfterLoss(stack, victim, lost, { lostAt: cutAt, from: cutAt });
      expect({ ...acts, doubleLinks: doubles }, `what ${victim.id} did for the ${lost.length} portals taken over while it was cut off`).toEqual({
        sends: [], pbxRequests: [], writes: [], notTakenOver: [], doubleLinks: [],
      });
      await expectOneLinkPerPbx();
      // It is back: /healthz of the cut-off instance answers again once its database is reachable.
      await eventually(async () => (await fetch(`${victim.url}/healthz`)).ok, 15_000, 200);
    } finally {
      await links.stop();
      victim.proxy.restore();
    }
  }, 120_000);
});
