import { describe, expect, it } from 'vitest';
import { fairShare } from '../../../server/cluster/fair-share.js';
import { singleInstanceOwnership } from '../../../server/cluster/ownership.js';

/** The file store's ownership (one instance owns everything) and the fair share the lease scan takes up to. */

describe('singleInstanceOwnership', () => {
  it('owns every portal; tells onGained for each at start and for a newly installed one, once; onLost for each at close', async () => {
    const portals = ['m1', 'm2'];
    const errors: unknown[] = [];
    const ownership = singleInstanceOwnership('solo', () => portals, (err) => errors.push(err));
    const events: string[] = [];
    ownership.onGained((memberId, epoch) => { events.push(`+${memberId}@${epoch}`); });
    ownership.onGained((memberId) => {
      // One failing listener stops neither the others nor the next portal.
      if (memberId === 'm2') throw new Error('listener broke');
    });
    ownership.onLost((memberId) => { events.push(`-${memberId}`); });
    // Before start nothing is told (the product's parts are not started yet).
    ownership.portalAdded('m0');
    expect(events).toEqual([]);

    await ownership.start();
    expect(events).toEqual(['+m1@0', '+m2@0']);
    expect(errors).toHaveLength(1);
    expect(ownership.owns('anything')).toBe(true);
    expect(ownership.epoch('m1')).toBe(0);

    ownership.portalAdded('m3');
    ownership.portalAdded('m3');
    ownership.portalAdded('m1');
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual(['+m1@0', '+m2@0', '+m3@0']);
    expect(ownership.stats()).toEqual({ owned: 3, leaseChanges: 3, instances: 1 });

    await ownership.close();
    expect(events.slice(3).sort()).toEqual(['-m1', '-m2', '-m3']);
    expect(ownership.stats().owned).toBe(0);
  });
});

describe('fairShare', () => {
  it('covers every portal between the live instances, rounding up', () => {
    expect(fairShare(0, 3)).toBe(0);
    expect(fairShare(20, 3)).toBe(7);
    expect(fairShare(20, 2)).toBe(10);
    expect(fairShare(4, 1)).toBe(4);
    // No instance counted (the heartbeat not yet seen): this one takes everything rather than nothing.
    expect(fairShare(5, 0)).toBe(5);
    for (const [portals, instances] of [[1000, 3], [7, 7], [1, 5], [999, 4]] as const) {
      expect(fairShare(portals, instances) * instances).toBeGreaterThanOrEqual(portals);
      // And no more than needed: one less would leave a portal without an owner.
      expect((fairShare(portals, instances) - 1) * instances).toBeLessThan(portals);
    }
  });
});
