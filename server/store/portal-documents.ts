import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { JsonDocument } from './document.js';
import type { PortalFences } from './fences.js';
import { isMissing, type StoreFs } from './fs.js';
import type { PortalFileName, StoreLayout } from './layout.js';
import { MigrationError, type DocumentKind } from './migrations/index.js';

/**
 * What the repositories built on per-portal documents need (settings, bindings, contact sync, missed-call tasks):
 * PortalDocuments below keeps them in files, the PostgreSQL store (store/postgres/documents.ts) in tables.
 */
export interface PortalDocumentSet<T extends Record<string, unknown>> {
  data(memberId: string): T | undefined;
  mutate(memberId: string, change: (current: T) => T): Promise<void>;
  remove(memberId: string): Promise<void>;
}

/**
 * One small lowdb document per portal (settings, bindings, contact sync), created on the first write.
 * A file that cannot be read (it and its .bak) fences its portal instead of stopping the start (store/fences.ts):
 * reads see no data, writes are refused so the unreadable file is never overwritten, until `repair` sets it aside.
 */
export class PortalDocuments<T extends Record<string, unknown>> implements PortalDocumentSet<T> {
  private readonly docs = new Map<string, JsonDocument<T>>();

  constructor(
    private readonly fs: StoreFs,
    private readonly layout: StoreLayout,
    readonly name: PortalFileName,
    private readonly kind: DocumentKind,
    private readonly empty: () => T,
    private readonly log: Logger,
    private readonly fences: PortalFences,
  ) {}

  /** Loads the portal's file if it exists (at start). */
  async load(memberId: string): Promise<void> {
    try {
      const doc = await JsonDocument.open(this.fs, this.layout.portalFile(memberId, this.name), this.kind, memberId, this.empty(), this.log);
      this.docs.set(memberId, doc);
    } catch (err) {
      const reason = unreadableReason(err);
      if (reason === undefined) throw err;
      this.log.error({ portal: memberId, file: this.layout.portalFile(memberId, this.name), err },
        `PORTAL_FENCED: ${this.name} of the portal is unreadable (${reason}); the portal is fenced off, every other portal is served`);
      this.fences.add(memberId, { file: this.name, repair: 'repair', reason });
    }
  }

  data(memberId: string): T | undefined {
    if (this.fences.has(memberId, this.name)) return undefined;
    return this.docs.get(memberId)?.data;
  }

  mutate(memberId: string, change: (current: T) => T): Promise<void> {
    if (this.fences.has(memberId, this.name)) return Promise.reject(this.fences.refuse(memberId, this.name));
    let doc = this.docs.get(memberId);
    if (!doc) {
      doc = JsonDocument.fresh(this.fs, this.layout.portalFile(memberId, this.name), this.kind, memberId, this.empty(), this.log);
      this.docs.set(memberId, doc);
    }
    return doc.mutate(change);
  }

  /**
   * Repair of a fenced document: the unreadable file and its .bak are moved aside (kept for the operator) and the
   * portal starts this document empty. Returns the name the file was kept under.
   */
  async startAfresh(memberId: string, at: number): Promise<string> {
    const doc = this.docs.get(memberId);
    this.docs.delete(memberId);
    await doc?.settled();
    const file = this.layout.portalFile(memberId, this.name);
    const keptAs = `${this.name}.corrupt-${at}`;
    await moveAside(this.fs, file, `${file}.corrupt-${at}`);
    await moveAside(this.fs, `${file}.bak`, `${file}.bak.corrupt-${at}`);
    this.fences.lift(memberId, this.name);
    return keptAs;
  }

  async remove(memberId: string): Promise<void> {
    const doc = this.docs.get(memberId);
    this.docs.delete(memberId);
    await doc?.settled();
    const file = this.layout.portalFile(memberId, this.name);
    for (const path of [file, `${file}.bak`]) {
      await this.fs.unlink(path).catch((err: unknown) => {
        if (!isMissing(err)) throw err;
      });
    }
    this.fences.lift(memberId, this.name);
  }

  async settled(): Promise<void> {
    await Promise.all([...this.docs.values()].map((d) => d.settled()));
  }
}

/** Plain words for why a portal's file could not be read, or undefined when the error is not about the file (re-thrown). */
export function unreadableReason(err: unknown): string | undefined {
  if (err instanceof MigrationError) return 'it was written by a newer release or names no valid schema version';
  if (err instanceof AppError && err.code === 'STORE_CORRUPT') return 'the file and its previous good copy (.bak) are both damaged';
  const code = typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
  if (code !== undefined && /^E[A-Z]+$/.test(code)) return `the disk refused to read it (${code})`;
  return undefined;
}

export async function moveAside(fs: StoreFs, from: string, to: string): Promise<void> {
  await fs.rename(from, to).catch((err: unknown) => {
    if (!isMissing(err)) throw err;
  });
}
