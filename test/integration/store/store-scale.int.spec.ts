import { open as openFile } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../../server/store/index.js';
import type { CallRecord } from '../../../server/store/records.js';
import type { Store } from '../../../server/store/types.js';
import { nodeFs, type StoreFs } from '../../../server/store/fs.js';
import { captureLog, makeCall, tempDir, TEST_KEY } from '../../unit/store/helpers.js';

/**
 * The proof issue: persisting one call event must stay O(record) with 100,000 calls stored.
 * The history is written straight into a journal (as 100,000 earlier puts would have left it), then the real
 * store loads it and we count what each put writes and syncs on the real disk, each awaited until durable
 * (fdatasync). Counting, not timing: a busy machine changes the milliseconds, not the bytes. The milliseconds
 * (p50/p99 of a put at this size, with and without fdatasync) are the bench's "history" phase (bench/phases/history.ts).
 */
const PORTAL = 'scale1';
const STORED = 100_000;

function historicCall(i: number): CallRecord {
  return makeCall(PORTAL, `pbx-${i}`, {
    startedAt: 1_700_000_000_000 + i * 1000,
    external: `+1555${String(i % 100_000).padStart(7, '0')}`,
    extensions: ['1001', '1002'],
    shownTo: [7],
    answeredBy: '1001',
    userId: 7,
    answeredAt: 1_700_000_000_000 + i * 1000 + 5000,
    endedAt: 1_700_000_000_000 + i * 1000 + 65_000,
    talkSeconds: 60,
    result: 'answered',
    b24CallId: `externalCall.${i}`,
    crm: { entityType: 'CONTACT', entityId: i % 5000 },
    recordingState: 'attached',
    phase: 'logged',
    updatedAt: 1_700_000_000_000 + i * 1000 + 70_000,
  });
}

let dir: string;
let cleanup: () => Promise<void>;
let store: Store;

/** The real disk, with fdatasync switchable off, counting the bytes written and the syncs asked for. */
const disk = { sync: true, bytes: 0, syncs: 0 };
const countingFs: StoreFs = {
  ...nodeFs,
  open: async (path, flags) => {
    const h = await nodeFs.open(path, flags);
    return {
      write: (b) => {
        disk.bytes += b.length;
        return h.write(b);
      },
      datasync: async () => {
        disk.syncs += 1;
        if (disk.sync) await h.datasync();
      },
      truncate: (l) => h.truncate(l),
      close: () => h.close(),
    };
  },
};

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  const portalDir = join(dir, 'portals', PORTAL);
  await mkdir(portalDir, { recursive: true });
  const handle = await openFile(join(portalDir, 'calls.jsonl'), 'w');
  await handle.write(`${JSON.stringify({ journal: 'calls', schemaVersion: 1, portal: PORTAL })}\n`);
  for (let start = 0; start < STORED; start += 5000) {
    const lines: string[] = [];
    for (let i = start; i < start + 5000; i += 1) lines.push(JSON.stringify(historicCall(i)));
    await handle.write(`${lines.join('\n')}\n`);
  }
  await handle.close();
  store = await openStore({ dataDir: dir, secretKey: TEST_KEY, log: captureLog().log, fs: countingFs });
}, 60_000);

afterAll(async () => {
  await store.close();
  await cleanup();
});

describe('call history at 100,000 calls', () => {
  it('loads the history with every index', () => {
    expect(store.calls.count(PORTAL)).toBe(STORED);
    expect(store.calls.getByB24CallId(PORTAL, 'externalCall.99999')?.pbxCallId).toBe('pbx-99999');
    expect(store.calls.listByEntity(PORTAL, 'CONTACT', 42, { limit: 3 }).map((c) => c.pbxCallId)).toEqual(['pbx-95042', 'pbx-90042', 'pbx-85042']);
  });

  /** The most bytes and syncs one awaited put cost, over `count` puts of 50 live calls. */
  async function costOfPuts(count: number, prefix: string): Promise<{ maxBytes: number; maxSyncs: number; recordBytes: number }> {
    let maxBytes = 0;
    let maxSyncs = 0;
    let recordBytes = 0;
    let call = makeCall(PORTAL, `${prefix}-0`, { startedAt: 1_800_000_000_000, phase: 'live' });
    for (let i = 0; i < count; i += 1) {
      call = { ...call, pbxCallId: `${prefix}-${i % 50}`, updatedAt: call.updatedAt + 1, phase: i % 3 === 0 ? 'ended' : 'live' };
      const [bytes, syncs] = [disk.bytes, disk.syncs];
      await store.calls.put(call);
      maxBytes = Math.max(maxBytes, disk.bytes - bytes);
      maxSyncs = Math.max(maxSyncs, disk.syncs - syncs);
      recordBytes = Math.max(recordBytes, JSON.stringify(call).length);
    }
    return { maxBytes, maxSyncs, recordBytes };
  }

  it('persists one call event in O(record): a put appends about one record and syncs once, whatever the history', async () => {
    // The store's share (serialize, index, append) without the disk's sync time, then each put durable (fdatasync).
    disk.sync = false;
    const own = await costOfPuts(1000, 'cpu');
    disk.sync = true;
    const durable = await costOfPuts(500, 'disk');
    // The journal holds 100,000 records (tens of MB): a put that rewrote or re-serialized any of it would show here.
    for (const cost of [own, durable]) {
      expect(cost.maxBytes).toBeLessThanOrEqual(2 * cost.recordBytes + 256);
      expect(cost.maxSyncs).toBe(1);
    }
    expect(store.calls.count(PORTAL)).toBe(STORED + 100);
  });

  it('100 concurrent puts share syncs', async () => {
    const syncs = disk.syncs;
    await Promise.all(Array.from({ length: 100 }, (_, i) => store.calls.put(makeCall(PORTAL, `burst-${i}`, { startedAt: 1_900_000_000_000 + i }))));
    // Group commit: the puts that arrive while one sync runs go out together with the next one.
    expect(disk.syncs - syncs).toBeLessThan(100);
    expect(store.calls.listRecent(PORTAL, { limit: 1 })[0]?.pbxCallId).toBe('burst-99');
  });
});
