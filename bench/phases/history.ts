import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../server/log.js';
import { nodeFs, type StoreFs } from '../../server/store/fs.js';
import { openStore } from '../../server/store/index.js';
import { HISTORY_PORTAL, storedCall, timeCallEventPuts } from '../lib/call-history-workload.js';
import { atMost, distribution, info, type ResultRow } from '../lib/stats.js';

/**
 * History size: one portal with `stored` calls in its journal, then the time to persist one call event
 * (`store.calls.put`, awaited). Measured twice: on the real disk (append + fdatasync, what the product acknowledges
 * on) and with fdatasync replaced by nothing (the store's own cost: index, serialize, write). The target is judged on
 * the durable figure: that is what a call event waits for before the product moves on.
 */

/** node:fs, except that fdatasync returns at once: what the store costs without waiting for the disk. */
const noSyncFs: StoreFs = {
  ...nodeFs,
  open: async (path, flags) => {
    const handle = await nodeFs.open(path, flags);
    return {
      write: (b) => handle.write(b), truncate: (n) => handle.truncate(n), close: () => handle.close(),
      datasync: () => Promise.resolve(),
    };
  },
  syncDir: () => Promise.resolve(),
};

async function seedJournal(dir: string, stored: number): Promise<void> {
  await mkdir(join(dir, 'portals', HISTORY_PORTAL), { recursive: true });
  const journal = await open(join(dir, 'portals', HISTORY_PORTAL, 'calls.jsonl'), 'w');
  await journal.write(`${JSON.stringify({ journal: 'calls', schemaVersion: 1, portal: HISTORY_PORTAL })}\n`);
  for (let start = 0; start < stored; start += 5000) {
    const lines: string[] = [];
    for (let i = start; i < Math.min(stored, start + 5000); i += 1) lines.push(JSON.stringify(storedCall(i, 'logged')));
    await journal.write(`${lines.join('\n')}\n`);
  }
  await journal.close();
}

async function putLatencies(dir: string, stored: number, fs: StoreFs): Promise<{ loadMs: number; puts: number[] }> {
  const t0 = performance.now();
  const store = await openStore({ dataDir: dir, secretKey: 'b'.repeat(64), log: createLogger('silent'), fs });
  const loadMs = performance.now() - t0;
  try {
    return { loadMs, puts: await timeCallEventPuts(store.calls, stored) };
  } finally {
    await store.close();
  }
}

export async function measureHistory(log: (line: string) => void, stored = 100_000): Promise<ResultRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'pbxb24-history-'));
  try {
    await seedJournal(dir, stored);
    const durable = await putLatencies(dir, stored, nodeFs);
    const own = await putLatencies(dir, stored, noSyncFs);
    const d = distribution(durable.puts);
    const o = distribution(own.puts);
    log(`history: load ${durable.loadMs.toFixed(0)} ms; durable put p50 ${d.p50.toFixed(2)} p99 ${d.p99.toFixed(2)}; store-only p50 ${o.p50.toFixed(3)} p99 ${o.p99.toFixed(3)}`);
    const section = `history, ${stored.toLocaleString('en')} calls stored`;
    return [
      atMost(section, 'persist one call event p99 (durable, fdatasync)', d.p99, 'ms', 20, `p50 ${d.p50.toFixed(2)}; 2000 puts; target judged here`),
      info(section, 'persist one call event p99 (store only, no fsync)', o.p99, 'ms', `p50 ${o.p50.toFixed(3)}`),
      info(section, 'open store (replay journal)', durable.loadMs, 'ms'),
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
