import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { errorCode, isMissing } from './fs.js';

export const LOCK_FILE = 'server.lock';

/**
 * One server process per DATA_DIR (issue 10 point 5). The store holds every document in memory and writes it back
 * whole, so a second process on the same directory would silently overwrite the first one's writes.
 *
 * The lock is a file created with O_EXCL (`wx`) holding the owner's PID, host and a random token. Node has no
 * flock(2), and no locking package is installed (proper-lockfile would fit; see the issue 10 report), so staleness
 * is decided like this:
 * - same host: the owner is gone when its PID no longer exists (`kill(pid, 0)` → ESRCH), or (Linux) the process
 *   with that PID started after the lock was written (the PID was reused). A server SIGKILLed and started again
 *   therefore takes the lock over at once. A lock naming our own PID is stale as well: in a container the restarted
 *   server often gets the PID its predecessor had (PID 1).
 * - another host (a shared volume, or a container re-created with a new hostname): its PID means nothing here, so the
 *   owner refreshes the file's mtime every `heartbeatMs`; a lock not refreshed for `staleMs` is stale.
 * A stale lock is taken over by renaming it away first (atomic) and checking that what was renamed is the lock
 * judged stale, so two processes starting at once after a crash cannot both take it.
 */
export interface DataDirLock {
  readonly file: string;
  release(): Promise<void>;
}

interface LockOwner {
  pid: number;
  host: string;
  startedAt: string;
  token: string;
}

export interface LockOptions {
  staleMs?: number;
  heartbeatMs?: number;
}

/** Data directories locked by this process: a second startServer in the same process is refused too. */
const heldHere = new Set<string>();

export async function lockDataDir(dataDir: string, log: Logger, opts: LockOptions = {}): Promise<DataDirLock> {
  const staleMs = opts.staleMs ?? 30_000;
  const heartbeatMs = opts.heartbeatMs ?? 10_000;
  const dir = resolve(dataDir);
  const file = join(dir, LOCK_FILE);
  if (heldHere.has(dir)) throw locked(dir, file, { pid: process.pid, host: hostname(), startedAt: 'earlier', token: '' }, undefined);
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const me: LockOwner = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), token: randomBytes(12).toString('hex') };

  for (let attempt = 0; attempt < 5; attempt += 1) {
    if (await tryCreate(file, me)) {
      heldHere.add(dir);
      const heartbeat = setInterval(() => {
        const t = new Date();
        void fsp.utimes(file, t, t).catch((err: unknown) => log.warn({ file, err }, 'could not refresh the data directory lock'));
      }, heartbeatMs);
      heartbeat.unref();
      log.info({ file, pid: me.pid }, 'data directory locked');
      return {
        file,
        async release() {
          clearInterval(heartbeat);
          heldHere.delete(dir);
          const current = await readOwner(file);
          // Only our own lock is removed: after a takeover elsewhere the file is no longer ours.
          if (current.owner?.token === me.token) await fsp.unlink(file).catch(() => undefined);
        },
      };
    }
    const { owner, mtimeMs } = await readOwner(file);
    if (mtimeMs === undefined) continue; // gone meanwhile: try again
    const stale = owner === undefined
      // An unreadable lock file: a crash between creating and writing it. Stale once old enough to not be in flight.
      ? Date.now() - mtimeMs > 2_000
      : await isStale(owner, mtimeMs, staleMs);
    if (!stale) {
      if (owner === undefined) {
        await delay(250);
        continue;
      }
      throw locked(dir, file, owner, owner.host === me.host ? undefined : staleMs);
    }
    await takeOver(file, owner, log);
  }
  throw new AppError('DATA_DIR_LOCKED', `could not lock DATA_DIR ${dir}: ${file} keeps changing (another server starting at the same time?)`);
}

async function isStale(owner: LockOwner, mtimeMs: number, staleMs: number): Promise<boolean> {
  if (owner.host !== hostname()) return Date.now() - mtimeMs > staleMs;
  if (owner.pid === process.pid) return true;
  if (!processExists(owner.pid)) return true;
  // The PID exists, but it may have been handed to another process since (PID reuse: in a restarted container the
  // same small PIDs come back, e.g. the shell that now starts the server). A process that started after the lock was
  // written cannot be its owner.
  const started = await processStartMs(owner.pid);
  const locked = Date.parse(owner.startedAt);
  return started !== undefined && Number.isFinite(locked) && started > locked + 2_000;
}

/**
 * When a process started, from Linux /proc (`starttime` in clock ticks after boot, field 22 of /proc/<pid>/stat; boot
 * time `btime` in /proc/stat). Clock ticks are USER_HZ, 100 on every mainstream Linux (proc(5)). Undefined elsewhere.
 */
async function processStartMs(pid: number): Promise<number | undefined> {
  try {
    const stat = await fsp.readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may itself hold spaces or parentheses: split after the last one.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    const btime = /^btime (\d+)$/m.exec(await fsp.readFile('/proc/stat', 'utf8'))?.[1];
    if (!Number.isFinite(ticks) || btime === undefined) return undefined;
    return (Number(btime) + ticks / 100) * 1000;
  } catch {
    return undefined;
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return errorCode(err) === 'EPERM';
  }
}

async function tryCreate(file: string, me: LockOwner): Promise<boolean> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, 'wx', 0o600);
  } catch (err) {
    if (errorCode(err) === 'EEXIST') return false;
    throw new AppError('DATA_DIR_UNAVAILABLE', `cannot create ${file}: ${err instanceof Error ? err.message : String(err)}`, 500, undefined, err);
  }
  try {
    await handle.writeFile(`${JSON.stringify(me)}\n`, 'utf8');
    await handle.datasync();
  } finally {
    await handle.close();
  }
  return true;
}

async function readOwner(file: string): Promise<{ owner?: LockOwner; mtimeMs?: number }> {
  let text: string;
  let mtimeMs: number;
  try {
    mtimeMs = (await fsp.stat(file)).mtimeMs;
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if (isMissing(err)) return {};
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockOwner>;
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string' && typeof parsed.token === 'string') {
      return { owner: { pid: parsed.pid, host: parsed.host, token: parsed.token, startedAt: String(parsed.startedAt) }, mtimeMs };
    }
  } catch {
    // Torn or foreign content: judged by its age.
  }
  return { mtimeMs };
}

/**
 * Renames the stale lock away, then checks that it was the one judged stale: if another process took it over in
 * between, its fresh lock is put back (link fails if yet another one exists; then that one is the owner).
 */
async function takeOver(file: string, stale: LockOwner | undefined, log: Logger): Promise<void> {
  const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await fsp.rename(file, aside);
  } catch (err) {
    if (isMissing(err)) return;
    throw err;
  }
  const moved = await readOwner(aside);
  if (stale !== undefined && moved.owner !== undefined && moved.owner.token !== stale.token) {
    await fsp.link(aside, file).catch(() => undefined);
  } else {
    log.warn({ file, pid: stale?.pid, host: stale?.host }, 'took over the data directory lock of a server process that is gone');
  }
  await fsp.unlink(aside).catch(() => undefined);
}

/** `remoteStaleMs`: the holder is on another host, judged by its heartbeat. */
function locked(dir: string, file: string, owner: LockOwner, remoteStaleMs: number | undefined): AppError {
  const who = `PID ${owner.pid} on host ${owner.host}, since ${owner.startedAt}`;
  const hint = remoteStaleMs !== undefined
    ? `If that process is gone, the lock counts as stale once it has not been refreshed for ${Math.round(remoteStaleMs / 1000)} s.`
    : 'Stop that process first; if it is not a server of this product, delete the lock file.';
  return new AppError('DATA_DIR_LOCKED',
    `DATA_DIR ${dir} is in use by another server process (${who}); two processes on one data directory would overwrite ` +
    `each other's writes, so this one does not start. ${hint} (lock file: ${file})`, 500, { pid: owner.pid, host: owner.host });
}

const delay = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));
