/**
 * How many portals one instance should own: every portal owned by someone, the live instances sharing them evenly
 * (design §6 "Rebalancing"). Rounded up, so the shares always cover every portal even when the instances' views of
 * the count differ by one for a moment.
 */
export function fairShare(portals: number, liveInstances: number): number {
  if (portals <= 0) return 0;
  return Math.ceil(portals / Math.max(1, liveInstances));
}
