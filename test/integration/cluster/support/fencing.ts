import type { ClusterPortal, ClusterStack } from './cluster.js';
import type { Instance } from './instance.js';

/**
 * What an instance that lost portals did for them afterwards: every request it sent to their Bitrix24 portal or PBX
 * (its own journal, outbound-tag.ts), every PBX request the emulator saw with its tag, every row it changed for them
 * (the write audit, audit.ts). The window for a portal opens when another instance first wrote its lease after the
 * loss (took it over; or at `from`, if later) and closes when the instance itself legitimately took the lease back (a new epoch), if it did.
 * Fencing holds when all three lists are empty.
 */
export interface AfterLoss {
  sends: { portal: string; at: number; url: string }[];
  pbxRequests: { portal: string; at: number; path: string }[];
  writes: { portal: string; at: number; tbl: string; op: string }[];
  /** Portals whose takeover by another instance was never seen (then nothing can be judged for them). */
  notTakenOver: string[];
}

interface LeaseChange {
  member_id: string;
  app: string;
  owner: string | null;
  at: Date;
}

/** `lostAt`: when the instance was frozen or cut off; `from`: when to start judging (its wake-up, or `lostAt`). */
export async function actsAfterLoss(
  stack: ClusterStack, victim: Instance, lost: readonly ClusterPortal[], times: { lostAt: number; from: number },
): Promise<AfterLoss> {
  const { lostAt, from } = times;
  const changes = await stack.query<LeaseChange>(
    `SELECT member_id, app, row_data->>'owner' AS owner, at FROM fault_audit
     WHERE tbl = 'portal_leases' AND member_id = ANY($1) AND at >= $2 ORDER BY id`,
    [lost.map((p) => p.memberId), new Date(lostAt)],
  );
  const windows = new Map<string, { open: number; close: number }>();
  const notTakenOver: string[] = [];
  for (const p of lost) {
    const mine = changes.filter((c) => c.member_id === p.memberId);
    const taken = mine.find((c) => c.owner !== victim.id && c.app !== victim.id);
    if (!taken) {
      notTakenOver.push(p.memberId);
      continue;
    }
    const open = Math.max(from, taken.at.getTime());
    const back = mine.find((c) => c.owner === victim.id && c.app === victim.id && c.at.getTime() > open);
    windows.set(p.memberId, { open, close: back ? back.at.getTime() : Number.POSITIVE_INFINITY });
  }
  const inWindow = (memberId: string, at: number): boolean => {
    const w = windows.get(memberId);
    return w !== undefined && at >= w.open && at < w.close;
  };

  const sends: AfterLoss['sends'] = [];
  for (const req of await victim.outbound()) {
    for (const p of lost) {
      const toPortal = req.url.startsWith(p.info.clientEndpoint.replace(/\/rest\/$/, '/')) || req.url.startsWith(`${p.pbx.url}/`);
      if (toPortal && inWindow(p.memberId, req.at)) sends.push({ portal: p.memberId, at: req.at, url: req.url });
    }
  }
  const tag = `fault-instance/${victim.id}`;
  const pbxRequests: AfterLoss['pbxRequests'] = [];
  for (const p of lost) {
    for (const r of await p.pbx.requests()) {
      if ((r.userAgent ?? '').includes(tag) && inWindow(p.memberId, r.at)) pbxRequests.push({ portal: p.memberId, at: r.at, path: r.path });
    }
  }
  const rows = await stack.query<{ member_id: string; tbl: string; op: string; at: Date; owner: string | null }>(
    `SELECT member_id, tbl, op, at, row_data->>'owner' AS owner FROM fault_audit
     WHERE app = $1 AND member_id = ANY($2) AND at >= $3 ORDER BY id`,
    [victim.id, lost.map((p) => p.memberId), new Date(from)],
  );
  const writes = rows
    .filter((r) => !(r.tbl === 'portal_leases' && r.owner === victim.id))
    .filter((r) => inWindow(r.member_id, r.at.getTime()))
    .map((r) => ({ portal: r.member_id, at: r.at.getTime(), tbl: r.tbl, op: r.op }));
  return { sends, pbxRequests, writes, notTakenOver };
}

/**
 * The same three sources before the loss, so that empty lists after it mean something: the instance did send to those
 * portals (its journal), was seen by their PBXs with its tag, and wrote their rows (the audit) while it owned them.
 */
export async function actsBeforeLoss(stack: ClusterStack, victim: Instance, lost: readonly ClusterPortal[], lostAt: number): Promise<{ sends: number; pbxRequests: number; writes: number }> {
  const tag = `fault-instance/${victim.id}`;
  const sends = (await victim.outbound()).filter((r) => r.at < lostAt && lost.some((p) => r.url.startsWith(`${p.pbx.url}/`))).length;
  let pbxRequests = 0;
  for (const p of lost) pbxRequests += (await p.pbx.requests()).filter((r) => r.at < lostAt && (r.userAgent ?? '').includes(tag)).length;
  const [row] = await stack.query<{ n: string }>(
    'SELECT count(*) AS n FROM fault_audit WHERE app = $1 AND member_id = ANY($2) AND at < $3',
    [victim.id, lost.map((p) => p.memberId), new Date(lostAt)],
  );
  return { sends, pbxRequests, writes: Number(row?.n ?? 0) };
}

/**
 * Samples every PBX's sockets until stopped and keeps the samples where one PBX had two live links: two sockets that
 * both carried a message from the product within `liveWindowMs` (the test's heartbeat is 500 ms). A socket of a
 * frozen process stays open but silent, so it does not count as live.
 */
export function watchLinks(stack: ClusterStack, liveWindowMs = 1_000, everyMs = 300): { stop(): Promise<{ samples: number; doubles: string[] }> } {
  let running = true;
  let samples = 0;
  const doubles: string[] = [];
  const loop = (async () => {
    while (running) {
      await Promise.all(stack.portals.map(async (p, n) => {
        const now = Date.now();
        const sockets = await p.pbx.sockets().catch(() => []);
        const live = sockets.filter((s) => s.lastClientMessageAt >= now - liveWindowMs);
        if (live.length > 1) doubles.push(`PBX ${n} (${p.memberId}) at ${new Date(now).toISOString()}: ${live.length} live sockets`);
      }));
      samples += 1;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { samples, doubles };
    },
  };
}
