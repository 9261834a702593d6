import { spawnSync } from 'node:child_process';
import { readFile, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOCK_FILE, lockDataDir } from '../../../server/store/data-dir-lock.js';
import { captureLog, tempDirForEachTest } from './helpers.js';

/**
 * Issue 10 point 5, the lock itself (the two-process test is test/integration/tenancy/data-dir-lock.int.spec.ts).
 * A second owner is refused with the holder's PID; a lock left by a process that is gone never blocks a restart.
 */

const dir = tempDirForEachTest();

/** A PID that existed and is gone now: a child that has exited (and been reaped). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

const lockFile = (): string => join(dir(), LOCK_FILE);

describe('DATA_DIR lock', () => {
  it('is exclusive, names the holder, and is released', async () => {
    const { log } = captureLog();
    const lock = await lockDataDir(dir(), log);
    const owner = JSON.parse(await readFile(lockFile(), 'utf8')) as { pid: number; host: string };
    expect(owner).toMatchObject({ pid: process.pid, host: hostname() });
    await expect(lockDataDir(dir(), log)).rejects.toThrow(new RegExp(`DATA_DIR_LOCKED: DATA_DIR ${dir()} is in use .*PID ${process.pid}`));
    await lock.release();
    await expect(readFile(lockFile(), 'utf8')).rejects.toThrow(/ENOENT/);
    const again = await lockDataDir(dir(), log);
    await again.release();
  });

  it('refuses while the process named in the lock is alive on this host', async () => {
    // PID 1 always exists and started before now; a lock naming it (and not this process) is held.
    await writeFile(lockFile(), JSON.stringify({ pid: 1, host: hostname(), startedAt: new Date().toISOString(), token: 't1' }));
    await expect(lockDataDir(dir(), captureLog().log)).rejects.toThrow(/DATA_DIR_LOCKED: .*PID 1 on host/);
    expect(JSON.parse(await readFile(lockFile(), 'utf8'))).toMatchObject({ token: 't1' });
  });

  it('takes over a lock whose process is gone (a SIGKILLed server), and says so in the log', async () => {
    const gone = deadPid();
    await writeFile(lockFile(), JSON.stringify({ pid: gone, host: hostname(), startedAt: 'then', token: 'dead' }));
    const capture = captureLog();
    const lock = await lockDataDir(dir(), capture.log);
    expect(JSON.parse(await readFile(lockFile(), 'utf8'))).toMatchObject({ pid: process.pid });
    expect(capture.messages()).toContain('took over the data directory lock of a server process that is gone');
    await lock.release();
  });

  it('takes over a lock whose PID now belongs to a process started after the lock was written (PID reuse)', async () => {
    // PID 1 is alive, but it started long after 2001: it cannot be the owner of a lock written then.
    await writeFile(lockFile(), JSON.stringify({ pid: 1, host: hostname(), startedAt: '2001-01-01T00:00:00.000Z', token: 'reused' }));
    const lock = await lockDataDir(dir(), captureLog().log);
    expect(JSON.parse(await readFile(lockFile(), 'utf8'))).toMatchObject({ pid: process.pid });
    await lock.release();
  });

  it('judges a lock from another host by its heartbeat: fresh is held, stale is taken over', async () => {
    await writeFile(lockFile(), JSON.stringify({ pid: 4242, host: 'other-host', startedAt: 'then', token: 'remote' }));
    await expect(lockDataDir(dir(), captureLog().log, { staleMs: 60_000 })).rejects.toThrow(/PID 4242 on host other-host/);
    const old = new Date(Date.now() - 120_000);
    await utimes(lockFile(), old, old);
    const lock = await lockDataDir(dir(), captureLog().log, { staleMs: 60_000 });
    expect(JSON.parse(await readFile(lockFile(), 'utf8'))).toMatchObject({ pid: process.pid });
    await lock.release();
  });
});
