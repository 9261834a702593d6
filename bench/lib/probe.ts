/**
 * Bench-only preload of the server process (`node --import tsx --import bench/lib/probe.ts server/main.ts`, started by
 * server-process.ts over an IPC channel; never loaded by `npm start`). Answers the bench's questions the product's
 * /metrics does not: the full process.memoryUsage() (external and array-buffer bytes, which tell sockets' and
 * buffers' share), the kernel's RSS high-water mark (the true peak, not the peak of 2-s samples), the process's CPU
 * time (user + system µs: per screen pop, far steadier than wall time on a shared machine), its GCs so far, a full GC before a reading (the child runs with --expose-gc), and a V8 heap snapshot
 * on demand (where the memory goes per portal). Kept out of server/ so no product code carries a bench hook.
 */
import { readFileSync } from 'node:fs';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';

export type ProbeQuestion = { kind: 'memory'; gc?: boolean } | { kind: 'cpu' } | { kind: 'gc' } | { kind: 'snapshot'; file: string };

/** Garbage collections of the server since it started (the bench's own `memory(true)` collections included). */
export interface ProbeGc {
  /** Mark-compacts: their concurrent marking runs on V8's helper threads, beside the main thread. */
  major: number;
}
export type ProbeRequest = ProbeQuestion & { id: number };

export interface ProbeMemory {
  rss: number;
  /** VmHWM of /proc/self/status: the largest RSS since start, bytes (NaN where /proc is missing). */
  rssPeak: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

function rssPeak(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

const gcs: ProbeGc = { major: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = ((entry as { detail?: unknown }).detail as { kind?: number } | undefined)?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) gcs.major += 1;
  }
}).observe({ entryTypes: ['gc'] });

function answer(req: ProbeRequest): unknown {
  switch (req.kind) {
    case 'memory': {
      // `--expose-gc` (server-process.ts): a full collection first, so "memory per portal" compares live objects.
      const gc = (globalThis as { gc?: () => void }).gc;
      if (req.gc && gc) gc();
      const u = process.memoryUsage();
      const memory: ProbeMemory = {
        rss: u.rss, rssPeak: rssPeak(), heapTotal: u.heapTotal, heapUsed: u.heapUsed, external: u.external, arrayBuffers: u.arrayBuffers,
      };
      return memory;
    }
    case 'cpu': {
      const c = process.cpuUsage();
      return { userMicros: c.user, systemMicros: c.system };
    }
    case 'gc':
      return { ...gcs };
    case 'snapshot':
      return { file: writeHeapSnapshot(req.file) };
  }
}

if (typeof process.send === 'function') {
  process.on('message', (msg: unknown) => {
    const req = msg as ProbeRequest;
    if (typeof req !== 'object' || req === null || typeof req.id !== 'number') return;
    let reply: { id: number; ok: boolean; value?: unknown; error?: string };
    try {
      reply = { id: req.id, ok: true, value: answer(req) };
    } catch (err) {
      reply = { id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    process.send?.(reply);
  });
  // The channel must not keep the server alive once it decided to stop.
  process.channel?.unref();
}
