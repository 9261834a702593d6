/**
 * Store benchmark: persisting one call event with a large history. Run: `npx tsx bench/store.bench.ts [calls]`.
 * Prints load time and put latency (each put awaited until durable: append + fdatasync), sequential and 100 concurrent.
 * Target (proof issue): p99 ≤ 20 ms with 100,000 calls stored, on a disk that is not shared with noisy neighbours.
 */
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../server/log.js';
import { openStore } from '../server/store/index.js';
import type { CallRecord } from '../server/store/records.js';

const PORTAL = 'bench';
const stored = Number(process.argv[2] ?? 100_000);

function call(i: number, phase: CallRecord['phase']): CallRecord {
  const at = 1_700_000_000_000 + i * 1000;
  return {
    portal: PORTAL, pbxCallId: `pbx-${i}`, direction: 'inbound', external: `+1555${String(i).padStart(7, '0')}`,
    extensions: ['1001', '1002'], shownTo: [7], answeredBy: '1001', userId: 7, startedAt: at, answeredAt: at + 5000,
    endedAt: at + 65_000, talkSeconds: 60, result: 'answered', b24CallId: `externalCall.${i}`, origin: 'pbx',
    crm: { entityType: 'CONTACT', entityId: i % 5000 }, recordingState: 'attached', phase, updatedAt: at + 70_000,
  };
}

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
};

const dir = await mkdtemp(join(tmpdir(), 'store-bench-'));
try {
  await mkdir(join(dir, 'portals', PORTAL), { recursive: true });
  const journal = await open(join(dir, 'portals', PORTAL, 'calls.jsonl'), 'w');
  await journal.write(`${JSON.stringify({ journal: 'calls', schemaVersion: 1, portal: PORTAL })}\n`);
  for (let start = 0; start < stored; start += 5000) {
    const lines: string[] = [];
    for (let i = start; i < Math.min(stored, start + 5000); i += 1) lines.push(JSON.stringify(call(i, 'logged')));
    await journal.write(`${lines.join('\n')}\n`);
  }
  await journal.close();

  const t0 = performance.now();
  const store = await openStore({ dataDir: dir, secretKey: 'b'.repeat(64), log: createLogger('silent') });
  const loadMs = performance.now() - t0;

  const sequential: number[] = [];
  for (let i = 0; i < 2000; i += 1) {
    const started = performance.now();
    await store.calls.put({ ...call(stored + (i % 100), i % 4 === 3 ? 'logged' : 'live'), updatedAt: i });
    sequential.push(performance.now() - started);
  }
  const burstStart = performance.now();
  await Promise.all(Array.from({ length: 100 }, (_, i) => store.calls.put(call(stored + 1000 + i, 'live'))));
  const burstMs = performance.now() - burstStart;
  await store.close();

  console.log(JSON.stringify({
    storedCalls: stored,
    loadMs: Math.round(loadMs),
    putP50Ms: Number(percentile(sequential, 50).toFixed(2)),
    putP99Ms: Number(percentile(sequential, 99).toFixed(2)),
    putMaxMs: Number(Math.max(...sequential).toFixed(2)),
    hundredConcurrentPutsMs: Number(burstMs.toFixed(2)),
  }));
} finally {
  await rm(dir, { recursive: true, force: true });
}
