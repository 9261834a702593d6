/**
 * Which instance runs a portal's live work (its PBX link, its outbox sender, its call timers): exactly one at a time
 * (design §6). With the file store there is one instance and it owns every portal (singleInstanceOwnership); with
 * PostgreSQL each portal is owned through a lease with fencing (lease-ownership.ts). The contract three helpers share:
 * /work/wt/s4-cluster-contract.md.
 *
 * Rule: nothing is sent for a portal (a Bitrix24 call, a PBX request, an outbox delivery) unless owns(memberId) is
 * true at the moment of sending.
 */
export interface Ownership {
  readonly instanceId: string;
  /** True while this instance holds a live, locally unexpired lease on the portal (always true without PostgreSQL). */
  owns(memberId: string): boolean;
  /**
   * True while the lease is still this instance's, also while it is being given up (its live work stopping): closing
   * the link may then still tidy up at the PBX (revoke its tokens). False once the lease is lost or run out locally.
   */
  holds(memberId: string): boolean;
  /** The portal's current lease epoch held by this instance, or undefined. */
  epoch(memberId: string): number | undefined;
  /** Called after a lease is taken (start live work) / before it is given up or when it is found lost (stop it). */
  onGained(listener: (memberId: string, epoch: number) => void | Promise<void>): void;
  onLost(listener: (memberId: string) => void | Promise<void>): void;
  /** Owned portal count and lease changes, for /metrics. */
  stats(): { owned: number; leaseChanges: number; instances: number };
  /** Takes the first leases (PostgreSQL: one scan, awaited with its listeners) and keeps them from then on. */
  start(): Promise<void>;
  /** A portal was installed: the file store owns it at once, the lease scan looks for it now (resolves after it). */
  portalAdded(memberId: string): Promise<void>;
  close(): Promise<void>;   // releases every lease (closing live work first)
}

type GainedListener = (memberId: string, epoch: number) => void | Promise<void>;
type LostListener = (memberId: string) => void | Promise<void>;

/** Runs listeners one after another, each failure caught and handed to `failed` (one bad listener stops no other). */
export async function tell<A extends unknown[]>(
  listeners: ((...args: A) => void | Promise<void>)[], args: A, failed: (err: unknown) => void,
): Promise<void> {
  for (const listener of listeners) {
    try {
      await listener(...args);
    } catch (err) {
      failed(err);
    }
  }
}

/**
 * The file store's ownership: one instance, every portal its own, no lease. Epoch 0 throughout (the file store is
 * not fenced). onGained is told for every portal at start and for each newly installed one, so the product starts
 * a portal's live work the same way with either store.
 */
export function singleInstanceOwnership(instanceId: string, portals: () => string[] = () => [], onError: (err: unknown) => void = () => undefined): Ownership {
  const gained: GainedListener[] = [];
  const lost: LostListener[] = [];
  const owned = new Set<string>();
  let started = false;
  let changes = 0;

  const gain = async (memberId: string): Promise<void> => {
    if (owned.has(memberId)) return;
    owned.add(memberId);
    changes += 1;
    await tell(gained, [memberId, 0], onError);
  };

  return {
    instanceId,
    owns: () => true,
    holds: () => true,
    epoch: () => 0,
    onGained: (listener) => { gained.push(listener); },
    onLost: (listener) => { lost.push(listener); },
    stats: () => ({ owned: owned.size, leaseChanges: changes, instances: 1 }),
    async start() {
      started = true;
      await Promise.all(portals().map((memberId) => gain(memberId)));
    },
    async portalAdded(memberId) {
      if (started) await gain(memberId);
    },
    async close() {
      started = false;
      const all = [...owned];
      owned.clear();
      await Promise.all(all.map((memberId) => tell(lost, [memberId], onError)));
    },
  };
}
