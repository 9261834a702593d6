import type { Logger } from '../log.js';
import { JsonDocument } from './document.js';
import { isMissing, type StoreFs } from './fs.js';
import type { PortalFileName, StoreLayout } from './layout.js';
import type { DocumentKind } from './migrations/index.js';

/** One small lowdb document per portal (settings, bindings, contact sync), created on the first write. */
export class PortalDocuments<T extends Record<string, unknown>> {
  private readonly docs = new Map<string, JsonDocument<T>>();

  constructor(
    private readonly fs: StoreFs,
    private readonly layout: StoreLayout,
    private readonly name: PortalFileName,
    private readonly kind: DocumentKind,
    private readonly empty: () => T,
    private readonly log: Logger,
  ) {}

  /** Loads the portal's file if it exists (at start). */
  async load(memberId: string): Promise<void> {
    const doc = await JsonDocument.open(this.fs, this.layout.portalFile(memberId, this.name), this.kind, memberId, this.empty(), this.log);
    this.docs.set(memberId, doc);
  }

  data(memberId: string): T | undefined {
    return this.docs.get(memberId)?.data;
  }

  mutate(memberId: string, change: (current: T) => T): Promise<void> {
    let doc = this.docs.get(memberId);
    if (!doc) {
      doc = JsonDocument.fresh(this.fs, this.layout.portalFile(memberId, this.name), this.kind, memberId, this.empty(), this.log);
      this.docs.set(memberId, doc);
    }
    return doc.mutate(change);
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
  }

  async settled(): Promise<void> {
    await Promise.all([...this.docs.values()].map((d) => d.settled()));
  }
}
