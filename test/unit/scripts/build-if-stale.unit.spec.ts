/**
 * Issue 12 point 11: `npm start` builds the web client only when it must. What an operator cares about: a restart
 * starts at once (before: `vite build` every time, 7 s of 12), and a fresh clone or a pulled client change is still
 * built by the same command (the README's one-command promise).
 */
import { mkdtemp, mkdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { staleReason } from '../../../scripts/build-if-stale.js';

let root = '';
const at = (seconds: number) => new Date(1_700_000_000_000 + seconds * 1000);

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'pbxb24-stale-'));
  await mkdir(join(root, 'client', 'views'), { recursive: true });
  for (const file of ['client/main.ts', 'client/views/CallCardView.vue', 'install.html', 'vite.config.ts', 'package.json', 'package-lock.json']) {
    await writeFile(join(root, file), 'x');
    await utimes(join(root, file), at(0), at(0));
  }
  for (const dir of ['client/views', 'client']) await utimes(join(root, dir), at(0), at(0));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function built(seconds: number): Promise<void> {
  await mkdir(join(root, 'dist', 'client', 'client'), { recursive: true });
  await writeFile(join(root, 'dist/client/client/index.html'), '<div id="app"></div>');
  await utimes(join(root, 'dist/client/client/index.html'), at(seconds), at(seconds));
}

describe('build-if-stale', () => {
  it('builds a fresh clone (no dist/client)', () => {
    expect(staleReason(root)).toBe('dist/client is missing');
  });

  it('does not rebuild when the build is newer than every source', async () => {
    await built(10);
    expect(staleReason(root)).toBeNull();
  });

  it('rebuilds when a client file deep in a folder, or the dependencies, changed after the build', async () => {
    await built(10);
    await utimes(join(root, 'client/views/CallCardView.vue'), at(20), at(20));
    expect(staleReason(root)).toBe('client changed since the last build');
    await utimes(join(root, 'client/views/CallCardView.vue'), at(0), at(0));
    await utimes(join(root, 'package-lock.json'), at(20), at(20));
    expect(staleReason(root)).toBe('package-lock.json changed since the last build');
  });
});
