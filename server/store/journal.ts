import { dirname } from 'node:path';
import type { Logger } from '../log.js';
import { isMissing, writeAll, type StoreFs, type WritableHandle } from './fs.js';
import { storeWriteFailed } from './document.js';
import { CURRENT_SCHEMA_VERSION, MigrationError, migrateRecord, type JournalKind } from './migrations/index.js';

/**
 * An append-only JSONL file: a header line, then one line per write holding the full new version of a record.
 * Loading replays it (the caller keeps the last version per key). Persisting a record costs one line, never a
 * rewrite of the history; appends that arrive together share one write + fdatasync (group commit).
 * When the file holds many superseded lines, it is rewritten from the live set (temp file + rename).
 */
export interface JournalHeader {
  journal: JournalKind;
  schemaVersion: number;
  portal: string;
}

export interface LoadedJournal {
  portal: string | undefined;
  /** Lines in the file, header included (compaction compares it with the live set). */
  lines: number;
  /** Written by an older schema: rewrite it in the current one. */
  migrated: boolean;
}

interface PendingAppend {
  bytes: Buffer;
  lines: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface JournalOptions {
  fs: StoreFs;
  file: string;
  kind: JournalKind;
  portal: string;
  log: Logger;
  /** The records to keep when compacting (current versions only). */
  live: () => Iterable<unknown>;
  liveCount: () => number;
  /** Compact when lines > max(minLines, ratio × live). */
  compactRatio?: number;
  compactMinLines?: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads a journal. A torn last line (a crash in the middle of an append, which was never acknowledged) is dropped
 * with a warning and cut off the file so the next append starts on a clean line. A corrupt line elsewhere is
 * reported and skipped: the line after it holds a complete, independent version of its record.
 */
export async function readJournal(
  fs: StoreFs, file: string, kind: JournalKind, log: Logger, onRecord: (record: Record<string, unknown>) => void,
): Promise<LoadedJournal> {
  let buffer: Buffer;
  try {
    buffer = await fs.readFile(file);
  } catch (err) {
    if (isMissing(err)) return { portal: undefined, lines: 0, migrated: false };
    throw err;
  }
  const lastNewline = buffer.lastIndexOf(0x0a);
  const completeLength = lastNewline + 1;
  if (completeLength < buffer.length) {
    log.warn({ file, bytes: buffer.length - completeLength },
      `${file}: the last line is incomplete (a write was cut off); skipping it`);
    const handle = await fs.open(file, 'a');
    try {
      await handle.truncate(completeLength);
      await handle.datasync();
    } finally {
      await handle.close();
    }
  }
  // Line by line straight from the buffer: a large journal never becomes one giant string (V8 caps string length),
  // and each record is handed over at once instead of collecting every superseded version first.
  let version = 0;
  let portal: string | undefined;
  let lines = 0;
  for (let start = 0; start < completeLength;) {
    const end = buffer.indexOf(0x0a, start);
    const line = buffer.toString('utf8', start, end);
    const index = lines;
    lines += 1;
    start = end + 1;
    if (line.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      log.error({ file, line: index + 1 }, `STORE_CORRUPT: ${file} line ${index + 1} is not JSON; skipping it`);
      continue;
    }
    if (!isObject(parsed)) continue;
    if (index === 0 && parsed.journal === kind && typeof parsed.schemaVersion === 'number') {
      version = parsed.schemaVersion;
      // Checked on the header itself, not only on the first record: a newer journal with no record yet must not be
      // "migrated" (rewritten) down to this release's version.
      if (!Number.isInteger(version) || version < 0 || version > CURRENT_SCHEMA_VERSION) {
        throw new MigrationError(`${file} has schema version ${String(version)}, which this build does not understand (${CURRENT_SCHEMA_VERSION}); run a newer release`);
      }
      portal = typeof parsed.portal === 'string' ? parsed.portal : undefined;
      continue;
    }
    onRecord(migrateRecord(kind, version, parsed, file));
  }
  return { portal, lines, migrated: version !== CURRENT_SCHEMA_VERSION };
}

export class Journal {
  private handle: WritableHandle | undefined;
  /** Bytes known durable: on a failed append the file is cut back to this. */
  private size = 0;
  private lines = 0;
  private queue: PendingAppend[] = [];
  private flushing: Promise<void> | undefined;
  private closed = false;
  private compactRequested = false;
  /** Set once `size` is known from this process (then it is the durable length, trusted over the file's). */
  private opened = false;
  private readonly ratio: number;
  private readonly minLines: number;

  constructor(private readonly opts: JournalOptions) {
    this.ratio = opts.compactRatio ?? 2;
    this.minLines = opts.compactMinLines ?? 1000;
  }

  get file(): string {
    return this.opts.file;
  }

  /** Lines found in the file at load (compaction compares them with the live set). */
  countExisting(lines: number): void {
    this.lines = lines;
  }

  /** Resolves once the lines are on disk (fdatasync'd). */
  append(records: unknown[]): Promise<void> {
    if (this.closed) return Promise.reject(storeWriteFailed(this.opts.file, new Error('the store is closed')));
    const text = records.map((r) => `${JSON.stringify(r)}\n`).join('');
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ bytes: Buffer.from(text, 'utf8'), lines: records.length, resolve, reject });
      void this.kick();
    });
  }

  /** Rewrites the file from the live set (after a migration, or to drop expired records). */
  rewrite(): Promise<void> {
    this.compactRequested = true;
    return this.kick();
  }

  private kick(): Promise<void> {
    // setImmediate lets every append made in this turn of the event loop join one write + sync.
    this.flushing ??= new Promise<void>((done) => setImmediate(() => void this.flushLoop().finally(done)));
    return this.flushing;
  }

  async close(): Promise<void> {
    await this.flushing;
    this.closed = true;
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
  }

  private header(): JournalHeader {
    return { journal: this.opts.kind, schemaVersion: CURRENT_SCHEMA_VERSION, portal: this.opts.portal };
  }

  private async openHandle(): Promise<WritableHandle> {
    if (this.handle) return this.handle;
    const { fs, file } = this.opts;
    let size = 0;
    try {
      size = await fs.size(file);
    } catch (err) {
      if (!isMissing(err)) throw err;
      await fs.mkdir(dirname(file));
    }
    const handle = await fs.open(file, 'a');
    if (this.opened && size > this.size) {
      // A failed append could not be cut off when it failed: cut it now, before a new line is glued to its torn end.
      try {
        await handle.truncate(this.size);
        await handle.datasync();
      } catch (err) {
        await handle.close().catch(() => undefined);
        throw err;
      }
      size = this.size;
    }
    if (size === 0) {
      const header = Buffer.from(`${JSON.stringify(this.header())}\n`, 'utf8');
      try {
        await writeAll(handle, header);
        await handle.datasync();
        await fs.syncDir(dirname(file));
      } catch (err) {
        await handle.close().catch(() => undefined);
        throw err;
      }
      size = header.length;
      this.lines = 1;
    }
    this.size = size;
    this.opened = true;
    this.handle = handle;
    return handle;
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.queue.length > 0 || this.compactRequested) {
        const batch = this.queue.splice(0);
        if (batch.length > 0) await this.writeBatch(batch);
        if (this.queue.length === 0 && (this.compactRequested || this.shouldCompact())) {
          this.compactRequested = false;
          await this.compact().catch((err: unknown) => {
            this.opts.log.warn({ file: this.opts.file, err }, 'journal compaction failed; appending to the old file');
          });
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }

  private async writeBatch(batch: PendingAppend[]): Promise<void> {
    const bytes = Buffer.concat(batch.map((p) => p.bytes));
    try {
      const handle = await this.openHandle();
      await writeAll(handle, bytes);
      await handle.datasync();
      this.size += bytes.length;
      this.lines += batch.reduce((n, p) => n + p.lines, 0);
      for (const p of batch) p.resolve();
    } catch (err) {
      await this.cutBack();
      const failure = storeWriteFailed(this.opts.file, err);
      this.opts.log.error({ file: this.opts.file, code: failure.details?.code }, failure.message);
      for (const p of batch) p.reject(failure);
    }
  }

  /** Removes a partly written batch so the file ends on the last acknowledged line. */
  private async cutBack(): Promise<void> {
    const handle = this.handle;
    if (!handle) return;
    try {
      await handle.truncate(this.size);
      await handle.datasync();
    } catch (err) {
      // The file may end in a torn line; reopening re-reads its size and the loader drops the torn tail.
      this.opts.log.error({ file: this.opts.file, err }, 'could not cut a failed append off the journal');
      await handle.close().catch(() => undefined);
      this.handle = undefined;
    }
  }

  private shouldCompact(): boolean {
    return this.lines > Math.max(this.minLines, this.ratio * (this.opts.liveCount() + 1));
  }

  /** Writes the live set to a temp file, then renames it over the journal. */
  private async compact(): Promise<void> {
    const { fs, file } = this.opts;
    const tmp = `${file}.compact.tmp`;
    // The snapshot is taken synchronously while no append is in flight, so it equals what is on disk.
    const snapshot = [this.header(), ...this.opts.live()];
    const handle = await fs.open(tmp, 'w');
    let size = 0;
    try {
      const chunk = 2000;
      for (let i = 0; i < snapshot.length; i += chunk) {
        const text = snapshot.slice(i, i + chunk).map((r) => `${JSON.stringify(r)}\n`).join('');
        const bytes = Buffer.from(text, 'utf8');
        await writeAll(handle, bytes);
        size += bytes.length;
      }
      await handle.datasync();
    } catch (err) {
      await handle.close().catch(() => undefined);
      await fs.unlink(tmp).catch(() => undefined);
      throw err;
    }
    await handle.close();
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
    await fs.rename(tmp, file);
    await fs.syncDir(dirname(file));
    this.handle = await fs.open(file, 'a');
    this.size = size;
    this.lines = snapshot.length;
  }
}
