import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../../server/store/index.js';
import { captureLog, tempDir } from '../../unit/store/helpers.js';

/**
 * Durability under SIGKILL: a child writes calls (4 concurrent writers, group-committed) and rewrites a document in
 * a loop; it is killed mid-write. Everything it was told is durable must be there after reopening, the journal's torn
 * tail (if any) is skipped, and the document is a whole version not older than the last acknowledged one.
 */
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

describe('store after SIGKILL mid-write', () => {
  it('keeps every acknowledged write and opens cleanly', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'crash-writer.ts'), dir], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      const ackedCalls = new Set<string>();
      let lastDoc = 0;
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      await new Promise<void>((resolve, reject) => {
        let buffer = '';
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`writer too slow (${ackedCalls.size} calls, ${lastDoc} docs); stderr: ${stderr}`));
        }, 40_000);
        void exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`writer exited before it was killed: ${stderr}`));
        });
        child.stdout?.on('data', (d: Buffer) => {
          buffer += d.toString();
          const lines = buffer.split('\n');
          buffer = lines.pop() ?? '';
          for (const line of lines) {
            if (line.startsWith('call ')) ackedCalls.add(line.slice(5));
            if (line.startsWith('doc ')) lastDoc = Number(line.slice(4));
          }
          if (ackedCalls.size >= 400 && lastDoc >= 20 && child.signalCode === null) {
            clearTimeout(timer);
            resolve();
            child.kill('SIGKILL');
          }
        });
      });
      await exited;

      const capture = captureLog();
      const store = await openStore({ dataDir: dir, secretKey: 'c'.repeat(64), log: capture.log });
      try {
        const missing = [...ackedCalls].filter((id) => store.calls.get('crash', id) === undefined);
        expect(missing).toEqual([]);
        const domain = store.portals.get('crash')?.domain ?? '';
        expect(domain).toMatch(/^d-\d+$/);
        expect(Number(domain.slice(2))).toBeGreaterThanOrEqual(lastDoc);
        // Writes go on after the crash.
        const first = store.calls.get('crash', [...ackedCalls][0] ?? '');
        expect(first).toBeDefined();
        if (first) await store.calls.put({ ...first, phase: 'logged' });
      } finally {
        await store.close();
      }
    } finally {
      await cleanup();
    }
  }, 60_000);
});
