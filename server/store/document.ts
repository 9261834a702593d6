import { dirname } from 'node:path';
import { Low, type Adapter } from 'lowdb';
import { AppError } from '../errors.js';
import { createKeyedSerial } from '../keyed-serial.js';
import type { Logger } from '../log.js';
import { errorCode, isMissing, writeAll, type StoreFs } from './fs.js';
import { CURRENT_SCHEMA_VERSION, migrateDocument, type DocumentKind } from './migrations/index.js';

/** What is on disk: the data in an envelope naming its kind, version and (for per-portal files) portal. */
interface Envelope {
  schemaVersion: number;
  kind: DocumentKind;
  portal?: string;
  data: Record<string, unknown>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function storeWriteFailed(file: string, cause: unknown): AppError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new AppError('STORE_WRITE_FAILED', `could not write ${file} (${reason}); the previous version is intact`, 503,
    { file, code: errorCode(cause) }, cause);
}

/**
 * Replaces `file` atomically and durably: temp file, fdatasync, then the current file becomes `<file>.bak`
 * (hard link + rename, so `file` itself never disappears), rename temp over `file`, fsync the directory.
 * steno (lowdb's own writer) renames but never fsyncs, so a power cut could leave an empty file behind.
 */
export async function replaceFile(fs: StoreFs, file: string, content: string, keepBackup = true): Promise<void> {
  const tmp = `${file}.tmp`;
  try {
    await fs.mkdir(dirname(file));
    const handle = await fs.open(tmp, 'w');
    try {
      await writeAll(handle, Buffer.from(content, 'utf8'));
      await handle.datasync();
    } finally {
      await handle.close();
    }
    if (keepBackup) await keepPreviousCopy(fs, file);
    await fs.rename(tmp, file);
    await fs.syncDir(dirname(file));
  } catch (err) {
    await fs.unlink(tmp).catch(() => undefined);
    throw storeWriteFailed(file, err);
  }
}

async function keepPreviousCopy(fs: StoreFs, file: string): Promise<void> {
  const bakTmp = `${file}.bak.tmp`;
  await fs.unlink(bakTmp).catch(() => undefined);
  try {
    await fs.link(file, bakTmp);
  } catch (err) {
    if (isMissing(err)) return;
    throw err;
  }
  await fs.rename(bakTmp, `${file}.bak`);
}

/** lowdb adapter over one JSON document: durable writes, schema migration and the `.bak` fallback on read. */
export class DurableJsonFile implements Adapter<Record<string, unknown>> {
  constructor(
    private readonly fs: StoreFs,
    readonly file: string,
    private readonly kind: DocumentKind,
    private readonly portal: string | undefined,
    private readonly log: Logger,
  ) {}

  /** False while `file` is known to be unreadable: it must not become the `.bak` that the next read falls back to. */
  private primaryGood = true;

  async read(): Promise<Record<string, unknown> | null> {
    const primary = await this.tryRead(this.file);
    if (primary.ok) return primary.data;
    this.primaryGood = primary.missing;
    const backupFile = `${this.file}.bak`;
    const backup = await this.tryRead(backupFile);
    if (primary.missing && backup.ok) {
      this.log.warn({ file: this.file }, `STORE_CORRUPT: ${this.file} is missing; using the previous good copy ${backupFile}`);
      return backup.data;
    }
    if (primary.missing && !backup.ok && backup.missing) return null;
    if (backup.ok) {
      this.log.error({ file: this.file, reason: primary.reason },
        `STORE_CORRUPT: ${this.file} is unreadable (${primary.reason}); using the previous good copy ${backupFile}`);
      await this.setAside();
      return backup.data;
    }
    throw new AppError('STORE_CORRUPT',
      `${this.file} is unreadable (${primary.reason}) and so is its previous good copy ${backupFile} (${backup.reason}); ` +
      'restore the file from a backup, or move both away to start this document empty', 500, { file: this.file });
  }

  async write(data: Record<string, unknown>): Promise<void> {
    const envelope: Envelope = { schemaVersion: CURRENT_SCHEMA_VERSION, kind: this.kind, ...(this.portal ? { portal: this.portal } : {}), data };
    await replaceFile(this.fs, this.file, `${JSON.stringify(envelope)}\n`, this.primaryGood);
    this.primaryGood = true;
  }

  /** Keeps the unreadable file for a post-mortem; the next write recreates `file` from memory. */
  private async setAside(): Promise<void> {
    await this.fs.rename(this.file, `${this.file}.corrupt-${Date.now()}`).catch((err: unknown) => {
      this.log.warn({ file: this.file, err }, 'could not set the unreadable file aside');
    });
  }

  private async tryRead(file: string): Promise<
    { ok: true; data: Record<string, unknown> } | { ok: false; missing: boolean; reason: string }
  > {
    let text: string;
    try {
      text = (await this.fs.readFile(file)).toString('utf8');
    } catch (err) {
      if (isMissing(err)) return { ok: false, missing: true, reason: 'missing' };
      return { ok: false, missing: false, reason: err instanceof Error ? err.message : String(err) };
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (!isObject(parsed)) return { ok: false, missing: false, reason: 'not a JSON object' };
      if (!('schemaVersion' in parsed)) {
        // v0: the bare data, written before documents had an envelope.
        return { ok: true, data: migrateDocument(this.kind, 0, parsed, file) };
      }
      if (typeof parsed.schemaVersion !== 'number' || !isObject(parsed.data)) {
        return { ok: false, missing: false, reason: 'envelope without schemaVersion/data' };
      }
      return { ok: true, data: migrateDocument(this.kind, parsed.schemaVersion, parsed.data, file) };
    } catch (err) {
      return { ok: false, missing: false, reason: err instanceof Error ? err.message : String(err) };
    }
  }
}

/**
 * One small document held in memory (lowdb `Low`), changed only through `mutate`, which is serialized:
 * a change is applied, written, and undone if the write fails, so memory is never ahead of the disk.
 */
export class JsonDocument<T extends Record<string, unknown>> {
  /** Changes one after another: each sees the previous one written (or undone). */
  private readonly writes = createKeyedSerial();

  private constructor(private readonly low: Low<Record<string, unknown>>, private readonly adapter: DurableJsonFile) {}

  static async open<T extends Record<string, unknown>>(
    fs: StoreFs, file: string, kind: DocumentKind, portal: string | undefined, empty: T, log: Logger,
  ): Promise<JsonDocument<T>> {
    const adapter = new DurableJsonFile(fs, file, kind, portal, log);
    const low = new Low<Record<string, unknown>>(adapter, { ...empty });
    await low.read();
    return new JsonDocument<T>(low, adapter);
  }

  /** A document that has no file yet; its file is created by the first `mutate`. */
  static fresh<T extends Record<string, unknown>>(
    fs: StoreFs, file: string, kind: DocumentKind, portal: string | undefined, empty: T, log: Logger,
  ): JsonDocument<T> {
    const adapter = new DurableJsonFile(fs, file, kind, portal, log);
    return new JsonDocument<T>(new Low<Record<string, unknown>>(adapter, { ...empty }), adapter);
  }

  get file(): string {
    return this.adapter.file;
  }

  get data(): T {
    return this.low.data as T;
  }

  mutate(change: (current: T) => T): Promise<void> {
    const run = async (): Promise<void> => {
      const previous = this.low.data;
      this.low.data = change(previous as T);
      try {
        await this.low.write();
      } catch (err) {
        this.low.data = previous;
        throw err;
      }
    };
    return this.writes.run(this.adapter.file, run);
  }

  /** Waits for writes in flight (close, remove). */
  settled(): Promise<void> {
    return this.writes.idle();
  }
}
