import { describe, expect, it } from 'vitest';
import { sampleScheduling, schedulingDelta } from '../../../bench/lib/scheduling.js';

describe('bench scheduling sample', () => {
  it('reads a process main thread run and run-queue time and the machine steal from /proc, growing with work', () => {
    const before = sampleScheduling(process.pid);
    const until = Date.now() + 30;
    let spin = 0;
    while (Date.now() < until) spin += 1;
    const delta = schedulingDelta(before, sampleScheduling(process.pid));
    expect(spin).toBeGreaterThan(0);
    expect(delta.mainRunMs).toBeGreaterThan(10);
    expect(delta.mainWaitMs).toBeGreaterThanOrEqual(0);
    expect(delta.stealMs).toBeGreaterThanOrEqual(0);
  });

  it('gives NaN, not a throw, for a process that is gone', () => {
    const gone = sampleScheduling(2 ** 22 + 7);
    expect(gone.mainRunMs).toBeNaN();
    expect(gone.mainWaitMs).toBeNaN();
  });
});
