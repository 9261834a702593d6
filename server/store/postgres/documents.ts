import type pg from 'pg';
import type { PortalDocumentSet } from '../portal-documents.js';
import type { PortalsDocument } from '../portals.js';
import type { Binding, CardMode, ContactSyncEntry, MissedCallTaskEntry, Portal, PortalSettings } from '../records.js';
import { createKeyedSerial } from '../../keyed-serial.js';
import type { PgContext } from './db.js';

/**
 * The PostgreSQL side of the document-shaped repositories (portals, settings, bindings, contact sync, missed-call
 * tasks): the same repositories as the file store (store/portals.ts, settings.ts, …: sealing, defaults, fences) over
 * tables instead of files. Each keeps the documents in memory (the Store's reads are synchronous) and writes a
 * change through to its table before the promise resolves; only the rows that changed are written.
 */

type Queryable = Pick<pg.Pool, 'query'>;

/** Every portal ($1 NULL) or one. */
const FOR_MEMBER = '($1::text IS NULL OR member_id = $1)';

/** How one kind of per-portal document maps to its table. */
interface DocumentTable<T> {
  /** Used as the write queue's name: writes of one kind and portal reach the database in order. */
  name: string;
  /** Every portal's document, or only `memberId`'s (a reload after another instance wrote it). */
  loadAll(db: Queryable, memberId?: string): Promise<Map<string, T>>;
  /** Writes what differs between prev and next; throws PORTAL_LEASE_LOST when the fencing guard refused it. */
  write(ctx: PgContext, memberId: string, prev: T | undefined, next: T): Promise<void>;
  remove(db: Queryable, memberId: string): Promise<void>;
}

export class PgPortalDocuments<T extends Record<string, unknown>> implements PortalDocumentSet<T> {
  private readonly docs = new Map<string, T>();

  constructor(private readonly ctx: PgContext, private readonly table: DocumentTable<T>, private readonly empty: () => T) {}

  async load(): Promise<void> {
    for (const [memberId, doc] of await this.table.loadAll(this.ctx.pool)) this.docs.set(memberId, doc);
  }

  /**
   * Reads the portal's document again (another instance wrote it). In the portal's write queue: a reload never
   * lands between this instance's own write and the memory update that follows it.
   */
  reload(memberId: string): Promise<void> {
    return this.ctx.serial(`${this.table.name}\u0000${memberId}`, async () => {
      const doc = (await this.table.loadAll(this.ctx.pool, memberId)).get(memberId);
      if (doc) this.docs.set(memberId, doc);
      else this.docs.delete(memberId);
    });
  }

  /** Reads every document again (after the LISTEN link was down: what changed meanwhile is unknown). */
  async reloadAll(): Promise<void> {
    const fresh = await this.table.loadAll(this.ctx.pool);
    for (const memberId of new Set([...this.docs.keys(), ...fresh.keys()])) {
      await this.ctx.serial(`${this.table.name}\u0000${memberId}`, () => {
        const doc = fresh.get(memberId);
        if (doc) this.docs.set(memberId, doc);
        else this.docs.delete(memberId);
        return Promise.resolve();
      });
    }
  }

  /** Drops the portal's document from memory (the portal was removed by another instance). */
  forget(memberId: string): void {
    this.docs.delete(memberId);
  }

  data(memberId: string): T | undefined {
    return this.docs.get(memberId);
  }

  mutate(memberId: string, change: (current: T) => T): Promise<void> {
    return this.ctx.serial(`${this.table.name}\u0000${memberId}`, async () => {
      const prev = this.docs.get(memberId);
      const next = change(prev ?? this.empty());
      await this.table.write(this.ctx, memberId, prev, next);
      this.docs.set(memberId, next);
    });
  }

  remove(memberId: string): Promise<void> {
    return this.ctx.serial(`${this.table.name}\u0000${memberId}`, async () => {
      await this.table.remove(this.ctx.pool, memberId);
      this.docs.delete(memberId);
    });
  }
}

/**
 * Every portal in memory, one row each. Portal rows are not fenced by the lease epoch: an install or a
 * re-install lands on whichever instance Bitrix24 reached, owner or not.
 */
export class PgPortalsDocument implements PortalsDocument {
  private current: { portals: Record<string, Portal> } = { portals: {} };
  /** One key: the portals rows are written in the order they were changed. */
  private readonly queue = createKeyedSerial();

  constructor(private readonly ctx: PgContext) {}

  get data(): { portals: Record<string, Portal> } {
    return this.current;
  }

  async load(): Promise<void> {
    const { rows } = await this.ctx.pool.query<{ member_id: string; record: Portal }>('SELECT member_id, record FROM portals');
    this.current = { portals: Object.fromEntries(rows.map((r) => [r.member_id, r.record])) };
  }

  /**
   * Reads portal rows again (another instance wrote them; all of them when `memberId` is absent). In the write
   * queue: never between this instance's own write and its memory update. Returns the member ids read.
   */
  reload(memberId?: string): Promise<string[]> {
    return this.queue.run('portals', async () => {
      const { rows } = await this.ctx.pool.query<{ member_id: string; record: Portal }>(
        'SELECT member_id, record FROM portals WHERE $1::text IS NULL OR member_id = $1', [memberId ?? null]);
      const portals = memberId === undefined ? {} : { ...this.current.portals };
      if (memberId !== undefined) delete portals[memberId];
      for (const row of rows) portals[row.member_id] = row.record;
      const touched = new Set([...Object.keys(this.current.portals), ...Object.keys(portals)]);
      this.current = { portals };
      return memberId === undefined ? [...touched] : [memberId];
    });
  }

  mutate(change: (current: { portals: Record<string, Portal> }) => { portals: Record<string, Portal> }): Promise<void> {
    return this.queue.run('portals', async () => {
      const prev = this.current.portals;
      const next = change(this.current);
      for (const [memberId, record] of Object.entries(next.portals)) {
        if (prev[memberId] === record) continue;
        await this.ctx.pool.query(
          `INSERT INTO portals (member_id, record, updated_at) VALUES ($1, $2, now())
           ON CONFLICT (member_id) DO UPDATE SET record = EXCLUDED.record, updated_at = now()`, [memberId, record]);
      }
      for (const memberId of Object.keys(prev)) {
        if (!(memberId in next.portals)) await this.ctx.pool.query('DELETE FROM portals WHERE member_id = $1', [memberId]);
      }
      this.current = next;
    });
  }

  settled(): Promise<void> {
    return this.queue.idle();
  }
}

/** Settings are an admin's write (any instance answers the API): not fenced by the lease epoch. */
export const settingsTable: DocumentTable<{ settings?: PortalSettings }> = {
  name: 'settings',
  async loadAll(db, memberId) {
    const { rows } = await db.query<{ member_id: string; settings: PortalSettings }>(
      `SELECT member_id, settings FROM portal_settings WHERE ${FOR_MEMBER}`, [memberId ?? null]);
    return new Map(rows.map((r) => [r.member_id, { settings: r.settings }]));
  },
  async write(ctx, memberId, _prev, next) {
    if (next.settings === undefined) {
      await ctx.pool.query('DELETE FROM portal_settings WHERE member_id = $1', [memberId]);
      return;
    }
    await ctx.pool.query(
      `INSERT INTO portal_settings (member_id, settings, updated_at) VALUES ($1, $2, now())
       ON CONFLICT (member_id) DO UPDATE SET settings = EXCLUDED.settings, updated_at = now()`, [memberId, next.settings]);
  },
  async remove(db, memberId) {
    await db.query('DELETE FROM portal_settings WHERE member_id = $1', [memberId]);
  },
};

type BindingsDoc = { bindings: Binding[]; cardModes?: Record<string, CardMode> };

/** Bindings are an admin's write too (PUT /api/bindings, auto-bind): not fenced. */
export const bindingsTable: DocumentTable<BindingsDoc> = {
  name: 'bindings',
  async loadAll(db, memberId) {
    const { rows } = await db.query<{ member_id: string; bindings: Binding[]; card_modes: Record<string, CardMode> }>(
      `SELECT member_id, bindings, card_modes FROM portal_bindings WHERE ${FOR_MEMBER}`, [memberId ?? null]);
    return new Map(rows.map((r) => [r.member_id, { bindings: r.bindings, cardModes: r.card_modes }]));
  },
  async write(ctx, memberId, _prev, next) {
    await ctx.pool.query(
      `INSERT INTO portal_bindings (member_id, bindings, card_modes, updated_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (member_id) DO UPDATE SET bindings = EXCLUDED.bindings, card_modes = EXCLUDED.card_modes, updated_at = now()`,
      [memberId, JSON.stringify(next.bindings), next.cardModes ?? {}]);
  },
  async remove(db, memberId) {
    await db.query('DELETE FROM portal_bindings WHERE member_id = $1', [memberId]);
  },
};

/**
 * Writes each changed entry of a keyed document (upsert) and deletes each entry gone, every statement guarded by
 * the portal's lease epoch (these are the owner's writes, made while handling calls).
 */
async function writeEntries<E>(
  ctx: PgContext, memberId: string, prev: Record<string, E>, next: Record<string, E>,
  upsert: (key: string, entry: E) => [string, unknown[]], remove: (key: string) => [string, unknown[]],
): Promise<void> {
  const epoch = ctx.epoch(memberId);
  for (const [key, entry] of Object.entries(next)) {
    if (prev[key] === entry) continue;
    const [sql, params] = upsert(key, entry);
    const result = await ctx.pool.query(sql, [...params, epoch]);
    const refused = ctx.refused(memberId, result.rowCount, 1);
    if (refused) throw refused;
  }
  for (const key of Object.keys(prev)) {
    if (key in next) continue;
    const [sql, params] = remove(key);
    const { rows } = await ctx.pool.query<{ ok: boolean }>(
      `WITH guard AS (SELECT portal_epoch_ok($1::text, $${params.length + 1}::bigint) AS ok),
       gone AS (${sql} AND (SELECT ok FROM guard) RETURNING 1) SELECT (SELECT ok FROM guard) AS ok`, [...params, epoch]);
    if (rows[0]?.ok !== true) throw ctx.refused(memberId, 0, 1) ?? new Error('unreachable');
  }
}

type ContactDoc = { entries: Record<string, ContactSyncEntry> };

export const contactSyncTable: DocumentTable<ContactDoc> = {
  name: 'contact-sync',
  async loadAll(db, memberId) {
    const { rows } = await db.query<{ member_id: string; entry: ContactSyncEntry }>(
      `SELECT member_id, entry FROM contact_sync WHERE ${FOR_MEMBER}`, [memberId ?? null]);
    const docs = new Map<string, ContactDoc>();
    for (const { member_id: memberId, entry } of rows) {
      const doc = docs.get(memberId) ?? { entries: {} };
      doc.entries[`${entry.entityType}:${entry.entityId}`] = entry;
      docs.set(memberId, doc);
    }
    return docs;
  },
  write: (ctx, memberId, prev, next) => writeEntries(ctx, memberId, prev?.entries ?? {}, next.entries,
    (_key, entry) => [
      `INSERT INTO contact_sync (member_id, entity_type, entity_id, entry) SELECT $1::text, $2::text, $3::bigint, $4::jsonb WHERE portal_epoch_ok($1, $5)
       ON CONFLICT (member_id, entity_type, entity_id) DO UPDATE SET entry = EXCLUDED.entry`,
      [memberId, entry.entityType, entry.entityId, entry]],
    (key) => {
      const [entityType = '', entityId = '0'] = key.split(':');
      return ['DELETE FROM contact_sync WHERE member_id = $1 AND entity_type = $2 AND entity_id = $3', [memberId, entityType, Number(entityId)]];
    }),
  async remove(db, memberId) {
    await db.query('DELETE FROM contact_sync WHERE member_id = $1', [memberId]);
  },
};

type MissedDoc = { open: Record<string, MissedCallTaskEntry> };

export const missedCallTasksTable: DocumentTable<MissedDoc> = {
  name: 'missed-call-tasks',
  async loadAll(db, memberId) {
    const { rows } = await db.query<{ member_id: string; phone: string; entry: MissedCallTaskEntry }>(
      `SELECT member_id, phone, entry FROM missed_call_tasks WHERE ${FOR_MEMBER}`, [memberId ?? null]);
    const docs = new Map<string, MissedDoc>();
    for (const { member_id: memberId, phone, entry } of rows) {
      const doc = docs.get(memberId) ?? { open: {} };
      doc.open[phone] = entry;
      docs.set(memberId, doc);
    }
    return docs;
  },
  write: (ctx, memberId, prev, next) => writeEntries(ctx, memberId, prev?.open ?? {}, next.open,
    (phone, entry) => [
      `INSERT INTO missed_call_tasks (member_id, phone, entry) SELECT $1::text, $2::text, $3::jsonb WHERE portal_epoch_ok($1, $4)
       ON CONFLICT (member_id, phone) DO UPDATE SET entry = EXCLUDED.entry`,
      [memberId, phone, entry]],
    (phone) => ['DELETE FROM missed_call_tasks WHERE member_id = $1 AND phone = $2', [memberId, phone]]),
  async remove(db, memberId) {
    await db.query('DELETE FROM missed_call_tasks WHERE member_id = $1', [memberId]);
  },
};
