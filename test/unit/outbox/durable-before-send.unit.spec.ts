import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createOutbox } from '../../../server/outbox/index.js';
import { nodeFs, type StoreFs } from '../../../server/store/fs.js';
import { openStore } from '../../../server/store/index.js';
import type { Store } from '../../../server/store/types.js';
import { captureLog, makePortal, tempDir, TEST_KEY } from '../store/helpers.js';
import { FakeBitrix } from './fake-bitrix.js';

/**
 * An outbox item leaves only once its own line is on disk. The store shows a new item at once (the next read sees it),
 * so a worker woken by something else — the answer to an earlier send — found it in `pending` and sent it while its
 * fdatasync was still running (traced in the bench: 16 registers out 8 ms before their line was durable). A crash
 * then could lose the item and the call record that asked for it, and the call recovered from the PBX's history
 * would be registered a second time.
 */
const P = 'm1';

/** The real filesystem; while held, each fdatasync of the outbox journal waits until the test lets it through. */
function outboxSyncGate(): { fs: StoreFs; hold(): void; waiting(): number; releaseOne(): void; releaseAll(): void } {
  let held = false;
  const waiting: (() => void)[] = [];
  const fs: StoreFs = {
    ...nodeFs,
    open: async (path, flags) => {
      const handle = await nodeFs.open(path, flags);
      if (!path.endsWith('outbox.jsonl')) return handle;
      return {
        write: (buffer) => handle.write(buffer),
        truncate: (length) => handle.truncate(length),
        close: () => handle.close(),
        datasync: async () => {
          if (held) await new Promise<void>((r) => waiting.push(r));
          await handle.datasync();
        },
      };
    },
  };
  return {
    fs,
    hold: () => { held = true; },
    waiting: () => waiting.length,
    releaseOne: () => waiting.shift()?.(),
    releaseAll: () => {
      held = false;
      for (const r of waiting.splice(0)) r();
    },
  };
}

const tick = (ms = 10) => new Promise((r) => setTimeout(r, ms));

describe('outbox: durable before sent', () => {
  let store: Store | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  const disk = outboxSyncGate();

  beforeEach(async () => {
    const temp = await tempDir();
    cleanup = temp.cleanup;
    store = await openStore({ dataDir: temp.dir, secretKey: TEST_KEY, log: captureLog().log, fs: disk.fs });
    await store.portals.put(makePortal(P));
  });
  afterEach(async () => {
    disk.releaseAll();
    await store?.close();
    await cleanup?.();
  });

  it('does not send an item whose line is still being written, though the worker is awake', async () => {
    if (!store) throw new Error('no store');
    const b24 = new FakeBitrix();
    const outbox = createOutbox({ store, clients: b24, log: captureLog().log, maxAttempts: 5, backoff: () => 5 });
    outbox.start();
    try {
      disk.hold();
      const first = outbox.enqueue([{ portal: P, group: 'first', method: 'test.write', params: { n: 1 }, id: 'a' }]);
      for (let i = 0; i < 50 && disk.waiting() === 0; i += 1) await tick(2);
      // `b` joins the next group commit while `a`'s fdatasync runs; memory shows it at once.
      const second = outbox.enqueue([{ portal: P, group: 'second', method: 'test.write', params: { n: 2 }, id: 'b' }]);
      expect(store.outbox.pending(P).map((i) => i.id)).toEqual(['a', 'b']);
      expect(store.outbox.sendable(P)).toEqual([]);

      // `a` is durable (the journal's header first, then its line): its enqueue wakes the worker while `b`'s line
      // waits for its own fdatasync.
      let firstStored = false;
      void first.then(() => { firstStored = true; });
      for (let i = 0; i < 100 && !firstStored; i += 1) {
        if (disk.waiting() > 0) disk.releaseOne();
        await tick(2);
      }
      expect(firstStored).toBe(true);
      for (let i = 0; i < 50 && b24.executed('test.write').length === 0; i += 1) await tick(2);
      await tick(30);
      expect(b24.executed('test.write').map((r) => r.params.n)).toEqual([1]);
      expect(store.outbox.get('b')?.status).toBe('pending');

      disk.releaseAll();
      await second;
      await outbox.idle(P, 2000);
      expect(b24.executed('test.write').map((r) => r.params.n)).toEqual([1, 2]);
    } finally {
      disk.releaseAll();
      await outbox.stop();
    }
  });
});
