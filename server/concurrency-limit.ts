/**
 * At most `max` tasks running at once; the others wait their turn in order (first come, first run).
 *
 * Used where one event fans out to hundreds of portals at once — a new instance taking 500 portals' leases, an
 * instance giving 500 up: started all together, their PBX logins, WebSocket handshakes, database reads and gap
 * recoveries land in the same few event-loop turns and hold the loop for hundreds of milliseconds, which every other
 * portal's screen pop then waits behind (bench `cluster`). Paced, the same work spreads over a few seconds.
 */
export interface ConcurrencyLimit {
  run<T>(task: () => T | Promise<T>): Promise<T>;
  /** Tasks running or waiting. */
  pending(): number;
}

export function createConcurrencyLimit(max: number): ConcurrencyLimit {
  if (!Number.isInteger(max) || max < 1) throw new Error(`concurrency limit must be a positive integer, got ${String(max)}`);
  let running = 0;
  const waiting: (() => void)[] = [];

  const release = (): void => {
    const next = waiting.shift();
    if (next) next();
    else running -= 1;
  };

  return {
    async run<T>(task: () => T | Promise<T>): Promise<T> {
      // A slot handed over by release() keeps `running` as it is: the finishing task's slot becomes this one's.
      if (running < max) running += 1;
      else await new Promise<void>((resolve) => waiting.push(resolve));
      try {
        return await task();
      } finally {
        release();
      }
    },
    pending: () => running + waiting.length,
  };
}
