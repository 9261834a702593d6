import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLinkStateFile } from '../../../../server/pbx/link-state.js';
import { openStore } from '../../../../server/store/index.js';
import { tempDir } from '../../../unit/store/helpers.js';
import { CONTRACT_KEY, contractLog, defineStoreContract } from './store-contract.js';

async function everyFile(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true })) {
    const path = join(root, entry.name);
    if (entry.isDirectory()) out.push(...(await everyFile(path)));
    else out.push(path);
  }
  return out;
}

defineStoreContract('file store (DATA_DIR)', async () => {
  const { dir, cleanup } = await tempDir();
  return {
    open: (opts) => openStore({ dataDir: dir, secretKey: opts?.secretKey ?? CONTRACT_KEY, log: contractLog(), ...(opts?.now ? { now: opts.now } : {}) }),
    rawDump: async () => (await Promise.all((await everyFile(dir)).map((f) => readFile(f, 'utf8')))).join('\n'),
    // What the PBX supervisor does with a store without its own marks (pbx/supervisor.ts).
    linkMarks: (store) => store.linkMarks ?? createLinkStateFile(join(dir, 'pbx-links.json'), { debounceMs: 10 }),
    dispose: cleanup,
  };
});
