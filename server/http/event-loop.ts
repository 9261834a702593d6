import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/**
 * Event-loop delay in tumbling slices, for /metrics. `monitorEventLoopDelay` records how late its timer fires
 * (https://nodejs.org/api/perf_hooks.html#perf_hooksmonitoreventloopdelayoptions). Its histogram cannot be merged
 * into another (`RecordableHistogram.add` refuses it), so the monitor is read and reset every `sliceMs`: /metrics shows
 * the last completed slice, which is what a scraper needs to follow a long-running process (a since-start histogram
 * would keep the start-up tail forever).
 */
export interface EventLoopSlice {
  /** Epoch ms the slice ended (0: no slice completed yet, figures are of the running one). */
  endedAt: number;
  sliceMs: number;
  samples: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface EventLoopDelay {
  lastSlice(): EventLoopSlice;
}

export interface EventLoopDelayOptions {
  resolutionMs?: number;
  sliceMs?: number;
  now?: () => number;
}

const NS_PER_MS = 1e6;

export function readSlice(h: Pick<IntervalHistogram, 'count' | 'percentile' | 'max'>, endedAt: number, sliceMs: number): EventLoopSlice {
  const ms = (ns: number): number => (h.count > 0 && Number.isFinite(ns) && ns > 0 ? ns / NS_PER_MS : 0);
  return {
    endedAt, sliceMs, samples: h.count,
    p50Ms: ms(h.percentile(50)), p90Ms: ms(h.percentile(90)), p99Ms: ms(h.percentile(99)), maxMs: ms(h.max),
  };
}

export function startEventLoopDelay(opts: EventLoopDelayOptions = {}): EventLoopDelay & { stop(): void } {
  const sliceMs = opts.sliceMs ?? 10_000;
  const now = opts.now ?? Date.now;
  const monitor = monitorEventLoopDelay({ resolution: opts.resolutionMs ?? 10 });
  monitor.enable();
  let last: EventLoopSlice | undefined;
  const rotate = setInterval(() => {
    last = readSlice(monitor, now(), sliceMs);
    monitor.reset();
  }, sliceMs);
  rotate.unref();
  return {
    lastSlice: () => last ?? readSlice(monitor, 0, sliceMs),
    stop: () => {
      clearInterval(rotate);
      monitor.disable();
    },
  };
}

let shared: EventLoopDelay | undefined;

/** One monitor per process, started on first use (every app in the process shares the one loop). */
export function processEventLoopDelay(): EventLoopDelay {
  shared ??= startEventLoopDelay();
  return shared;
}
