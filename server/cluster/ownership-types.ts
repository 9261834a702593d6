/**
 * The Ownership interface of the session-4 cluster contract (/work/wt/s4-cluster-contract.md), declared here so
 * that the parts handing work to a portal's owner compile before server/cluster/ownership.ts (helper "lease")
 * lands; that module implements it. Kept word for word as agreed.
 */
export interface Ownership {
  readonly instanceId: string;
  /** True while this instance holds a live, locally unexpired lease on the portal (always true without PostgreSQL). */
  owns(memberId: string): boolean;
  /** The portal's current lease epoch held by this instance, or undefined. */
  epoch(memberId: string): number | undefined;
  /** Called after a lease is taken (start live work) / before it is given up or when it is found lost (stop it). */
  onGained(listener: (memberId: string, epoch: number) => void | Promise<void>): void;
  onLost(listener: (memberId: string) => void | Promise<void>): void;
  /** Owned portal count and lease changes, for /metrics. */
  stats(): { owned: number; leaseChanges: number; instances: number };
  close(): Promise<void>;
}
