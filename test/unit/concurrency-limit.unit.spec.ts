import { describe, expect, it } from 'vitest';
import { createConcurrencyLimit } from '../../server/concurrency-limit.js';

/** A task that runs until its `finish` is called; records how many ran beside it. */
function gate(): { promise: Promise<void>; finish: () => void } {
  let finish = (): void => undefined;
  const promise = new Promise<void>((resolve) => { finish = resolve; });
  return { promise, finish };
}

describe('concurrency limit', () => {
  it('runs at most `max` tasks at once and the rest in the order they came', async () => {
    const limit = createConcurrencyLimit(2);
    const gates = Array.from({ length: 5 }, () => gate());
    const started: number[] = [];
    let running = 0;
    let most = 0;
    const done = gates.map((g, i) => limit.run(async () => {
      started.push(i);
      running += 1;
      most = Math.max(most, running);
      await g.promise;
      running -= 1;
      return i;
    }));
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1]);
    expect(limit.pending()).toBe(5);
    gates[1]?.finish();
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2]);
    for (const g of gates) g.finish();
    expect(await Promise.all(done)).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(2);
    expect(limit.pending()).toBe(0);
  });

  it('a failing task fails only its caller and frees its slot', async () => {
    const limit = createConcurrencyLimit(1);
    const failed = limit.run(() => { throw new Error('boom'); });
    const next = limit.run(() => 'ran');
    await expect(failed).rejects.toThrow('boom');
    expect(await next).toBe('ran');
    expect(limit.pending()).toBe(0);
  });

  it('refuses a limit that is not a positive integer', () => {
    expect(() => createConcurrencyLimit(0)).toThrow(/positive integer/);
    expect(() => createConcurrencyLimit(1.5)).toThrow(/positive integer/);
  });
});
