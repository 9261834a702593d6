import { afterEach, beforeEach } from 'vitest';
import { openStore } from '../../../server/store/index.js';
import type { Store } from '../../../server/store/types.js';
import { captureLog, makePortal, tempDir, TEST_KEY } from '../store/helpers.js';

/** A fresh store in a temp dir with one portal, for every test of the file; `current()` is that test's store. */
export function portalStorePerTest(memberId: string): { current(): Store } {
  let store: Store | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  beforeEach(async () => {
    const temp = await tempDir();
    cleanup = temp.cleanup;
    store = await openStore({ dataDir: temp.dir, secretKey: TEST_KEY, log: captureLog().log });
    await store.portals.put(makePortal(memberId));
  });
  afterEach(async () => {
    await store?.close();
    await cleanup?.();
  });
  return {
    current() {
      if (!store) throw new Error('the store exists only inside a test');
      return store;
    },
  };
}
