import type { Pool } from 'pg';
import type { ClusterNotifier, StoreChange } from './postgres/notify.js';
import type { Fence, FencedFile, PortalFences } from './fences.js';
import type {
  Binding, CallRecord, CardMode, ContactSyncEntry, CrmEntityType, MissedCallTaskEntry, OutboxItem, Portal, PortalSettings,
} from './records.js';

/**
 * Reads come from memory and are synchronous; writes resolve once the data is durable on disk
 * (a crash after the promise resolved never loses it).
 */
export interface PortalsRepository {
  get(memberId: string): Portal | undefined;
  list(): Portal[];
  put(portal: Portal): Promise<void>;
  update(memberId: string, patch: Partial<Portal>): Promise<Portal>;
  remove(memberId: string): Promise<void>;
}

export interface SettingsRepository {
  /** The portal's settings, DEFAULT_SETTINGS filled in where nothing was saved. */
  get(memberId: string): PortalSettings;
  put(memberId: string, settings: PortalSettings): Promise<void>;
  clear(memberId: string): Promise<void>;
}

export interface BindingsRepository {
  list(memberId: string): Binding[];
  replace(memberId: string, bindings: Binding[]): Promise<void>;
  userForExtension(memberId: string, extension: string): number | undefined;
  extensionForUser(memberId: string, userId: number): string | undefined;
  /** The employee's call card mode; `ring` unless an admin chose another. Kept apart from the bindings (auto-bind recomputes those). */
  cardModeFor(memberId: string, userId: number): CardMode;
  /** Modes set by an admin (users absent: `ring`). */
  cardModes(memberId: string): Record<number, CardMode>;
  setCardModes(memberId: string, modes: Record<number, CardMode>): Promise<void>;
}

export interface CallsRepository {
  get(portal: string, pbxCallId: string): CallRecord | undefined;
  /** Whether the call is stored: get() without the copy. */
  has(portal: string, pbxCallId: string): boolean;
  /** Finds the call Bitrix24 knows under this CALL_ID. */
  getByB24CallId(portal: string, b24CallId: string): CallRecord | undefined;
  put(record: CallRecord): Promise<void>;
  /** Newest first; `before` is an epoch-ms cursor on startedAt. */
  listByEntity(portal: string, entityType: CrmEntityType, entityId: number, opts?: { limit?: number; before?: number }): CallRecord[];
  listByPhone(portal: string, e164: string, opts?: { limit?: number }): CallRecord[];
  listRecent(portal: string, opts?: { limit?: number; before?: number }): CallRecord[];
  /** Calls not yet terminal (phase live/ended), all portals: resumed after a restart. */
  listOpen(): CallRecord[];
  /** listOpen().length without the copies (the calls-in-flight gauge, read on every /metrics scrape). */
  countOpen(): number;
  count(portal: string): number;
  removePortal(portal: string): Promise<void>;
}

export interface ContactSyncRepository {
  get(portal: string, entityType: string, entityId: number): ContactSyncEntry | undefined;
  put(entry: ContactSyncEntry): Promise<void>;
  list(portal: string): ContactSyncEntry[];
  clear(portal: string): Promise<void>;
}

export interface MissedCallTasksRepository {
  /** The open missed-call task of this outside number, if any. */
  get(portal: string, phone: string): MissedCallTaskEntry | undefined;
  put(entry: MissedCallTaskEntry): Promise<void>;
  remove(portal: string, phone: string): Promise<void>;
  list(portal: string): MissedCallTaskEntry[];
  clear(portal: string): Promise<void>;
}

export interface OutboxRepository {
  /** Persists new items (skipping any whose key exists); returns the stored items. */
  append(items: OutboxItem[]): Promise<OutboxItem[]>;
  update(item: OutboxItem): Promise<void>;
  updateMany(items: OutboxItem[]): Promise<void>;
  get(id: string): OutboxItem | undefined;
  getByKey(portal: string, key: string): OutboxItem | undefined;
  pending(portal: string): OutboxItem[];
  /** pending() less the items whose first version is not durable yet: what a worker may send. Less `skipGroups`' items. */
  sendable(portal: string, skipGroups?: ReadonlySet<string>): OutboxItem[];
  failed(portal: string): OutboxItem[];
  portalsWithPending(): string[];
  /** Every item kept for the portal (pending, failed, done within retention), by seq: what a store migration copies. */
  list(portal: string): OutboxItem[];
  /** Done or failed items whose onDone/onFailed handler has not been told yet (a crash came between): all portals. */
  undelivered(): OutboxItem[];
  removePortal(portal: string): Promise<void>;
  nextSeq(): number;
}

/** What POST /api/repair did: the files started afresh (and the names they were kept under), and what still fences. */
/**
 * The in-memory side both stores share for one kind of record (store/call-index.ts, store/outbox-index.ts): the
 * repository over it, and what each store does to it as it loads, compacts and removes a portal.
 */
export interface PortalMemoryIndex<Item, Repository> {
  /** The repository over this index; removePortal stays with each store (what it deletes differs). */
  repository: Omit<Repository, 'removePortal'>;
  /** Puts one loaded record into the index (a later version of the same record replaces the earlier). */
  load(memberId: string, item: Item): void;
  /** The portal's current records (the file store's compaction writes these). */
  live(memberId: string): IterableIterator<Item>;
  liveCount(memberId: string): number;
  /** Forgets the portal's records. */
  forget(memberId: string): void;
}

/** What one store adds to a shared index: where new versions are written, and its fence before any change. */
export interface MemoryIndexBackend {
  /** Throws when the portal may not be written at all, before memory changes (the file store's fences). */
  refuse?(memberId: string): void;
}

export interface RepairResult {
  repaired: { file: FencedFile; keptAs: string }[];
  /** Fences a repair cannot lift (a re-install, or the operator, must). */
  remaining: Fence[];
}

/** The PostgreSQL store's database, for GET /healthz and /metrics; the file store has none. */
export interface StoreDatabase {
  kind: 'postgres';
  /** A trivial query within a short timeout, and the schema version the database is at. */
  check(): Promise<{ reachable: boolean; schemaVersion?: number; error?: string }>;
  /**
   * Fencing (design §6): the lease epoch every owner write of the portal carries from now on, checked in the same
   * statement against portal_leases; a write whose epoch is no longer current fails with PORTAL_LEASE_LOST.
   * Undefined (the default): the portal's writes are not fenced (one instance).
   */
  setEpoch(memberId: string, epoch: number | undefined): void;
  /**
   * Reads the portal's owner data again from the database into memory (outbox items, calls, contact sync, missed-call
   * tasks, the PBX link mark): a new owner (server/cluster/) resumes what the former owner left, not what this
   * instance saw when it opened the store.
   */
  reloadPortal(memberId: string): Promise<void>;
  /** This instance among those sharing the database (its application_name there). */
  instanceId: string;
  /** The store's pool, for the cluster's own tables (portal_work, portal_buckets: server/cluster/). */
  pool: Pool;
  /** The LISTEN link (store/postgres/notify.ts). */
  notifier: ClusterNotifier;
  /** Every reload caused by another instance's write, received so far, has finished (tests). */
  settled(): Promise<void>;
  /**
   * Told once another instance's change of a portal's record, settings or bindings is in this instance's memory
   * (the portal's owner reconciles its PBX link after a settings save that another instance answered).
   */
  onRemoteChange(listener: (change: StoreChange) => void): void;
  /** Reads the portal's row again now (e.g. under the token lock: another instance may have just refreshed). */
  reloadPortalRecord(memberId: string): Promise<void>;
  /** Runs `task` as the only holder of (purpose, portal) across every instance (a PostgreSQL advisory lock). */
  withPortalLock<T>(memberId: string, purpose: string, task: () => Promise<T>): Promise<T>;
  /** The server's webhook key, one for every instance (store/webhook-key.ts loads it through this). */
  webhookKey: SharedWebhookKey;
  /**
   * The store's secret box (SECRET_KEY, shared by every instance on the database): for a secret the cluster has to
   * pass between instances through a table (a recording grant's PBX token, server/cluster/recording-handover.ts).
   */
  secrets: { seal(plain: string): string; open(sealed: string): string };
}

/**
 * The webhook key kept in the database (PostgreSQL store: table server_keys, sealed like every other secret), so
 * every instance derives the same webhook URL for a portal.
 */
export interface SharedWebhookKey {
  /** The stored key; undefined when none is stored yet. Throws when it is stored but does not open (SECRET_KEY). */
  read(): Promise<string | undefined>;
  /** Stores `key` unless a key is stored already (another instance was first), and answers the stored one. */
  offer(key: string): Promise<string>;
  /** Stores `key` over whatever is stored (npm run migrate-store --force). */
  replace(key: string): Promise<void>;
}

/**
 * The PBX supervisor's coverage marks (pbx/link-state.ts has the file version, DATA_DIR/pbx-links.json): a store that
 * keeps them itself (PostgreSQL) offers this, and the supervisor uses it instead of the file.
 */
export interface LinkMarksStore {
  load(): Promise<void>;
  coveredUntil(memberId: string): number | undefined;
  setCoveredUntil(memberId: string, at: number): void;
  forget(memberId: string): void;
  /** True when every mark was lost at load (the file version: it and its .bak both damaged). */
  marksLost(): boolean;
  legacyWebhookKey(): string | undefined;
  dropLegacyWebhookKey(): void;
  flush(): Promise<void>;
}

export interface Store {
  /** Set by the PostgreSQL store only. */
  database?: StoreDatabase;
  /** Set by the PostgreSQL store only: the PBX link marks kept in the database. */
  linkMarks?: LinkMarksStore;
  /** Portals fenced off because some of their stored data cannot be read (store/fences.ts). */
  fences: PortalFences;
  /** Starts every unreadable file of the portal afresh, keeping the unreadable one aside as `<file>.corrupt-<time>`. */
  repairPortal(memberId: string): Promise<RepairResult>;
  portals: PortalsRepository;
  settings: SettingsRepository;
  bindings: BindingsRepository;
  calls: CallsRepository;
  contactSync: ContactSyncRepository;
  missedCallTasks: MissedCallTasksRepository;
  outbox: OutboxRepository;
  /** Deletes everything stored for the portal (uninstall with CLEAN=1): portal, settings, bindings, sync, calls, outbox. */
  removePortal(memberId: string): Promise<void>;
  /** Flushes and closes files. */
  close(): Promise<void>;
}
