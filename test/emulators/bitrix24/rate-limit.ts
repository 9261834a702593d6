/**
 * The portal's request-rate limit: a leaky bucket per portal — burst 50, drain 2/s; Enterprise 250 and 5/s.
 * Over the limit the request fails with HTTP 503 QUERY_LIMIT_EXCEEDED; a batch counts as one request.
 * https://apidocs.bitrix24.com/limits.html
 */
export class LeakyBucket {
  private level = 0;
  private at = Date.now();
  constructor(
    public burst: number,
    public drainRate: number,
  ) {}

  private drain(now: number): void {
    const elapsed = Math.max(0, now - this.at) / 1000;
    this.level = Math.max(0, this.level - elapsed * this.drainRate);
    this.at = now;
  }

  /** Counts one request; false when it overflows (the request is refused and not counted). */
  take(now = Date.now()): boolean {
    this.drain(now);
    if (this.level + 1 > this.burst) return false;
    this.level += 1;
    return true;
  }

  current(now = Date.now()): number {
    this.drain(now);
    return this.level;
  }

  reset(): void {
    this.level = 0;
    this.at = Date.now();
  }
}
