import type pg from 'pg';

/**
 * The SQL of portal leases (design §6), one statement per step so each is atomic on its own. Expiry is judged by
 * the database's clock (now()) only: the instances' clocks never meet in SQL, so a skewed host cannot take a live
 * lease. Tables: portal_leases (migrations/001_initial.sql), instances (002_cluster.sql).
 */

type Db = Pick<pg.Pool, 'query'>;

export interface LeaseRow {
  memberId: string;
  epoch: number;
}

export interface ClusterCounts {
  /** Portals known to the database (each has a lease row after this call). */
  portals: number;
  /** Instances whose heartbeat is younger than the lease TTL, this one included. */
  instances: number;
}

const rowsOf = (rows: { member_id: string; epoch: string | number }[]): LeaseRow[] =>
  rows.map((r) => ({ memberId: r.member_id, epoch: Number(r.epoch) }));

/**
 * This instance's heartbeat, the lease rows of portals that have none yet (a fresh install, or a store migrated in),
 * and the counts the fair share is computed from. Instances silent for an hour are forgotten.
 */
export async function heartbeat(db: Db, instanceId: string, ttlMs: number): Promise<ClusterCounts> {
  const { rows } = await db.query<{ instances: string; portals: string }>(`
    WITH beat AS (
      INSERT INTO instances (instance_id) VALUES ($1)
      ON CONFLICT (instance_id) DO UPDATE SET heartbeat_at = now()
      RETURNING 1
    ), missing AS (
      INSERT INTO portal_leases (member_id, owner, epoch, expires_at)
      SELECT p.member_id, '', 0, '-infinity' FROM portals p
      WHERE NOT EXISTS (SELECT 1 FROM portal_leases l WHERE l.member_id = p.member_id)
      ON CONFLICT (member_id) DO NOTHING
      RETURNING 1
    ), forgotten AS (
      DELETE FROM instances WHERE instance_id <> $1 AND heartbeat_at < now() - interval '1 hour'
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM instances WHERE instance_id <> $1 AND heartbeat_at > now() - $2 * interval '1 millisecond') + 1 AS instances,
           (SELECT count(*) FROM portals) AS portals,
           (SELECT count(*) FROM beat) + (SELECT count(*) FROM missing) + (SELECT count(*) FROM forgotten) AS touched`,
  [instanceId, ttlMs]);
  const row = rows[0];
  return { instances: Number(row?.instances ?? 1), portals: Number(row?.portals ?? 0) };
}

/**
 * Extends the leases this instance holds, each only at the epoch it holds it and while it has not run out (or the
 * portal was removed): the rows returned are the leases still held; any other was lost.
 */
export async function renewLeases(db: Db, instanceId: string, held: LeaseRow[], ttlMs: number): Promise<LeaseRow[]> {
  if (held.length === 0) return [];
  const { rows } = await db.query<{ member_id: string; epoch: string }>(`
    UPDATE portal_leases l SET expires_at = now() + $4 * interval '1 millisecond'
    FROM unnest($2::text[], $3::bigint[]) AS h(member_id, epoch)
    WHERE l.member_id = h.member_id AND l.epoch = h.epoch AND l.owner = $1 AND l.expires_at > now()
      AND EXISTS (SELECT 1 FROM portals p WHERE p.member_id = l.member_id)
    RETURNING l.member_id, l.epoch`,
  [instanceId, held.map((h) => h.memberId), held.map((h) => h.epoch), ttlMs]);
  return rowsOf(rows);
}

/**
 * Takes up to `count` leases that ran out (or that this instance's earlier self still holds), never one of
 * `exclude`. Every take increments the epoch, so whatever the former owner still writes with its epoch is refused
 * (portal_epoch_ok). SKIP LOCKED: two instances scanning at once take different portals instead of waiting.
 */
export async function takeLeases(db: Db, instanceId: string, count: number, exclude: string[], ttlMs: number): Promise<LeaseRow[]> {
  if (count <= 0) return [];
  const { rows } = await db.query<{ member_id: string; epoch: string }>(`
    UPDATE portal_leases l SET owner = $1, epoch = l.epoch + 1, expires_at = now() + $4 * interval '1 millisecond'
    WHERE l.member_id IN (
      SELECT member_id FROM portal_leases
      WHERE (expires_at < now() OR owner = $1) AND NOT (member_id = ANY($3::text[]))
      ORDER BY expires_at, member_id
      LIMIT $2
      FOR UPDATE SKIP LOCKED
    ) AND (l.expires_at < now() OR l.owner = $1)
    RETURNING l.member_id, l.epoch`,
  [instanceId, count, exclude, ttlMs]);
  return rowsOf(rows);
}

/** Gives leases up at once (their live work already stopped), so another instance takes them on its next scan. */
export async function releaseLeases(db: Db, instanceId: string, leases: LeaseRow[]): Promise<number> {
  if (leases.length === 0) return 0;
  const result = await db.query(`
    UPDATE portal_leases l SET owner = '', expires_at = '-infinity'
    FROM unnest($2::text[], $3::bigint[]) AS h(member_id, epoch)
    WHERE l.member_id = h.member_id AND l.epoch = h.epoch AND l.owner = $1`,
  [instanceId, leases.map((h) => h.memberId), leases.map((h) => h.epoch)]);
  return result.rowCount ?? 0;
}

/** This instance stops: the others' fair share grows at their next scan. */
export async function leaveCluster(db: Db, instanceId: string): Promise<void> {
  await db.query('DELETE FROM instances WHERE instance_id = $1', [instanceId]);
}
