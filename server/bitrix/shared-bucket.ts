import type { Pool } from 'pg';
import type { Logger } from '../log.js';
import { TokenBucket, type RateBucket } from './coalesce.js';

/**
 * A portal's Bitrix24 rate bucket shared by every instance on one database (issue 14): Bitrix24 meters the portal,
 * not our process, so two instances each with a full bucket of their own would together send twice what it allows
 * (QUERY_LIMIT_EXCEEDED). Each request's room is taken from the portal's row in `portal_buckets` by
 * take_portal_token (migration 003), the same leaky bucket as rate-plan.ts's figures, drained by the database's
 * clock. One database round trip per Bitrix24 request; the coalescer still packs everything pending into it.
 *
 * Should the database not answer, the instance falls back to a bucket of its own (as with one instance) rather
 * than stop talking to Bitrix24: the database is then down for the whole cluster, and the instances' own buckets
 * are what there is.
 */
export class SharedTokenBucket implements RateBucket {
  private credits = 0;
  private reserving: Promise<void> | undefined;
  private readonly local: TokenBucket;
  private fallbackLogged = false;

  constructor(
    private readonly pool: Pick<Pool, 'query'>,
    private readonly memberId: string,
    private readonly burst: number,
    private readonly perSecond: number,
    private readonly log: Logger,
  ) {
    this.local = new TokenBucket(burst, perSecond);
  }

  /** Room is never known without asking the database: 0 only for room already taken and given back. */
  waitMs(): number {
    return this.credits >= 1 ? 0 : 1;
  }

  take(): void {
    this.credits -= 1;
  }

  giveBack(): void {
    this.credits += 1;
  }

  async acquire(): Promise<void> {
    while (this.credits < 1) await this.reserve();
    this.credits -= 1;
  }

  /** One waiter asks the database at a time; the others wait for the credit it brings. */
  private reserve(): Promise<void> {
    this.reserving ??= this.reserveOne().finally(() => {
      this.reserving = undefined;
    });
    return this.reserving;
  }

  private async reserveOne(): Promise<void> {
    for (;;) {
      let wait: number;
      try {
        const { rows } = await this.pool.query<{ wait: number }>('SELECT take_portal_token($1, $2, $3) AS wait', [this.memberId, this.burst, this.perSecond]);
        wait = rows[0]?.wait ?? 0;
        this.fallbackLogged = false;
      } catch (err) {
        if (!this.fallbackLogged) {
          this.fallbackLogged = true;
          this.log.warn({ portal: this.memberId, err: err instanceof Error ? err.message : String(err) },
            'the shared Bitrix24 rate bucket is unreachable (database): metering this instance\'s requests on its own');
        }
        await this.local.acquire();
        this.credits += 1;
        return;
      }
      if (wait === 0) {
        this.credits += 1;
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}
