/**
 * Child process for the crash test: writes as fast as it can and prints what the store acknowledged,
 * until the parent SIGKILLs it mid-write. Usage: node --import tsx crash-writer.ts <dataDir>
 */
import { createLogger } from '../../../server/log.js';
import { openStore } from '../../../server/store/index.js';
import { makeCall, makePortal } from '../../unit/store/helpers.js';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: crash-writer.ts <dataDir>');
const store = await openStore({ dataDir, secretKey: 'c'.repeat(64), log: createLogger('silent') });
await store.portals.put(makePortal('crash'));
process.stdout.write('ready\n');

let doc = 0;
const documents = async (): Promise<void> => {
  for (;;) {
    doc += 1;
    await store.portals.update('crash', { domain: `d-${doc}` });
    process.stdout.write(`doc ${doc}\n`);
  }
};
const calls = async (worker: number): Promise<void> => {
  for (let i = 0; ; i += 1) {
    const id = `w${worker}-${i}`;
    await store.calls.put(makeCall('crash', id, { startedAt: i, note: 'x'.repeat(200 + (i % 300)) }));
    process.stdout.write(`call ${id}\n`);
  }
};
await Promise.all([documents(), calls(1), calls(2), calls(3), calls(4)]);
