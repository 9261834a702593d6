import pg from 'pg';
import { AppError } from '../../errors.js';
import { createKeyedSerial } from '../../keyed-serial.js';

/**
 * One pool per store, plus what every repository of the PostgreSQL store shares: a write queue per portal (a
 * portal's writes reach the database in the order they were made, though the pool has several connections) and
 * the portal's fencing epoch (design §6).
 */
export class PgContext {
  private readonly writes = createKeyedSerial();
  private readonly epochs = new Map<string, number>();

  constructor(readonly pool: pg.Pool) {}

  /** Runs `task` after every earlier write of the portal. */
  serial<T>(memberId: string, task: () => Promise<T>): Promise<T> {
    return this.writes.run(memberId, task);
  }

  epoch(memberId: string): number | null {
    return this.epochs.get(memberId) ?? null;
  }

  setEpoch(memberId: string, epoch: number | undefined): void {
    if (epoch === undefined) this.epochs.delete(memberId);
    else this.epochs.set(memberId, epoch);
  }

  /**
   * Every owner write is guarded by `portal_epoch_ok(member, epoch)` in its own statement; a guarded write that
   * touched no row was refused by the guard (the epoch is not current any more).
   */
  refused(memberId: string, rowCount: number | null, expected: number): AppError | undefined {
    if ((rowCount ?? 0) >= expected) return undefined;
    return new AppError('PORTAL_LEASE_LOST', `this instance no longer owns portal ${memberId} (lease epoch ${String(this.epoch(memberId))} is not current); the write was refused`, 409);
  }

  async idle(): Promise<void> {
    await this.writes.idle();
  }
}

/**
 * pg returns bigint columns as strings (they may exceed 2^53); ours are epoch milliseconds and sequence numbers,
 * well inside a double.
 */
export function toNumber(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

/**
 * `applicationName`: the instance id (notify.ts applicationName): the store_changed trigger reports it as the
 * writer, so an instance ignores the notifications of its own writes.
 */
export function createPool(databaseUrl: string, applicationName?: string): pg.Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl, max: 10, connectionTimeoutMillis: 10_000, idleTimeoutMillis: 30_000,
    ...(applicationName !== undefined ? { application_name: applicationName } : {}),
  });
  // An idle client's error (the server restarted) must not crash the process: the pool drops the client and the
  // next query opens a new one. Queries in flight get their own error.
  pool.on('error', () => undefined);
  return pool;
}

/** The URL without its password, for logs and error messages. */
export function redactUrl(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return 'postgres://(unparseable URL)';
  }
}

/**
 * Runs `task` while this session holds the advisory lock named `name` (hashed to a 64-bit key by PostgreSQL's
 * hashtextextended): one holder across every instance sharing the database. A session lock on one pool client,
 * released when the task ends, failed or not; the client is dropped instead of returned if the unlock fails, so a
 * lock can never stay behind on a pooled connection. If the database link breaks, the server ends the session and
 * with it the lock.
 */
export async function withAdvisoryLock<T>(pool: pg.Pool, name: string, task: () => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [name]);
  } catch (err) {
    client.release(true);
    throw err;
  }
  try {
    return await task();
  } finally {
    const unlocked = await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [name]).then(() => true, () => false);
    client.release(!unlocked);
  }
}
