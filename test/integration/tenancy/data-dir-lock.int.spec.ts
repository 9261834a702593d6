import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_FILE } from '../../../server/store/data-dir-lock.js';
import { freePort } from '../foundation/server-under-test.js';
import { startStack, type Stack, type Tenant } from '../../support/stack.js';

/**
 * Issue 10 point 5, "two processes, one data dir", end to end. The attack (or the operator's slip): a second server
 * process is started on a DATA_DIR a running server uses — by `npm start` twice, or a second container on the same
 * volume. Before the fix it started and each process overwrote the other's writes. What the customer cares about:
 * the second process refuses to start with a message naming the DATA_DIR and the PID holding it, the running server
 * and its files are untouched; and a server killed with SIGKILL (its lock left behind) starts again on the same dir.
 */

const MAIN = join(import.meta.dirname, '..', '..', '..', 'server', 'main.ts');

/** Every file under DATA_DIR with a hash of its content, except the PBX link marks the running server moves on its own. */
async function snapshot(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (!entry.name.startsWith('pbx-links.json')) out[relative(root, path)] = createHash('sha256').update(await readFile(path)).digest('hex');
    }
  };
  await walk(root);
  return out;
}

/** `npm start` (server/main.ts) on the given DATA_DIR: resolves with its exit code and stderr. */
async function startSecondProcess(dataDir: string): Promise<{ code: number | null; stderr: string }> {
  const port = await freePort();
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: `http://127.0.0.1:${port}`, LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const guard = setTimeout(() => proc.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
  clearTimeout(guard);
  return { code, stderr };
}

async function lockOwner(dataDir: string): Promise<{ pid: number; host: string }> {
  return JSON.parse(await readFile(join(dataDir, LOCK_FILE), 'utf8')) as { pid: number; host: string };
}

describe('tenancy: one server process per DATA_DIR', () => {
  let stack: Stack;
  let tenant: Tenant;

  beforeAll(async () => {
    stack = await startStack({ mode: 'child' });
    tenant = await stack.addTenant();
  }, 60_000);

  afterAll(async () => {
    await stack?.close();
  });

  it('a second process on the same DATA_DIR exits non-zero naming the DATA_DIR and the PID, and touches nothing', async () => {
    const owner = await lockOwner(stack.dataDir);
    expect(owner.pid).not.toBe(process.pid);
    const before = await snapshot(stack.dataDir);

    const second = await startSecondProcess(stack.dataDir);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('DATA_DIR_LOCKED');
    expect(second.stderr).toContain(`DATA_DIR ${stack.dataDir} is in use by another server process (PID ${owner.pid} on host ${owner.host}`);

    expect(await snapshot(stack.dataDir)).toEqual(before);
    expect(await lockOwner(stack.dataDir)).toEqual(owner);
    expect((await stack.api(tenant, 'admin', 'GET', '/status')).status).toBe(200);
  }, 60_000);

  it('a server killed with SIGKILL leaves its lock behind, and the restart on the same DATA_DIR takes it over', async () => {
    const killed = await lockOwner(stack.dataDir);
    await stack.killServer();
    expect(await lockOwner(stack.dataDir)).toEqual(killed);
    await stack.startServer();
    const restarted = await lockOwner(stack.dataDir);
    expect(restarted.pid).not.toBe(killed.pid);
    expect((await stack.api(tenant, 'admin', 'GET', '/status')).status).toBe(200);
    expect(await stack.logs()).toContain('took over the data directory lock of a server process that is gone');

    // A clean stop releases the lock.
    await stack.stopServer();
    await expect(stat(join(stack.dataDir, LOCK_FILE))).rejects.toThrow(/ENOENT/);
    await stack.startServer();
  }, 60_000);
});
