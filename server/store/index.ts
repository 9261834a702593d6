import { createSecretBox } from '../crypto.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { BindingsDocuments } from './bindings.js';
import { createCallsRepository } from './calls.js';
import { composeStore, repairFences } from './compose.js';
import type { ContactSyncDocuments } from './contact-sync.js';
import { JsonDocument } from './document.js';
import { createPortalFences, type Fence } from './fences.js';
import type { MissedCallTaskDocuments } from './missed-call-tasks.js';
import { isMissing, nodeFs, type StoreFs } from './fs.js';
import { portalDirName, storeLayout } from './layout.js';
import { createOutboxRepository } from './outbox.js';
import { PortalDocuments, type PortalDocumentSet } from './portal-documents.js';
import { openPostgresStore } from './postgres/index.js';
import type { Portal } from './records.js';
import type { SettingsDocuments } from './settings.js';
import type { RepairResult, Store } from './types.js';

export { resolveSecretKey } from './secret-key.js';
export { lockDataDir, type DataDirLock } from './data-dir-lock.js';
export type { StoreFs } from './fs.js';

/** The document shape of a PortalDocumentSet. */
type DocumentOf<S> = S extends PortalDocumentSet<infer T> ? T : never;

export interface OpenStoreOptions {
  dataDir: string;
  /**
   * postgres://… selects the PostgreSQL store (store/postgres/); unset, the file store under dataDir (the default).
   * The secret key seals secrets the same way in both.
   */
  databaseUrl?: string;
  secretKey: string;
  log: Logger;
  /** Tests inject a failing disk here; production uses node:fs. */
  fs?: StoreFs;
  /** Clock for the outbox's done-item retention. */
  now?: () => number;
  /** PostgreSQL store: this instance's id among those sharing the database (server/instance-id.ts by default). */
  instanceId?: string;
}

/** The store the configuration names: PostgreSQL when a database URL is given, else the file store in DATA_DIR. */
export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  if (opts.databaseUrl !== undefined) {
    return openPostgresStore({
      databaseUrl: opts.databaseUrl, secretKey: opts.secretKey, log: opts.log,
      ...(opts.now ? { now: opts.now } : {}), ...(opts.instanceId !== undefined ? { instanceId: opts.instanceId } : {}),
    });
  }
  return openFileStore(opts);
}

/**
 * Opens DATA_DIR: loads every document and replays every journal into memory.
 * One portal's unreadable file (a document and its .bak, a journal, a sealed value that does not open) fences that
 * portal (store/fences.ts) and the start goes on for every other portal. Whole-server failures still stop the start,
 * naming the file: portals.json and its .bak both unreadable (STORE_CORRUPT: without it no portal can be told from
 * another, frame auth included), and SECRET_KEY_MISMATCH when no sealed value opens with the key.
 */
export async function openFileStore(opts: OpenStoreOptions): Promise<Store> {
  const fs = opts.fs ?? nodeFs;
  const log = opts.log.child({ part: 'store' });
  const layout = storeLayout(opts.dataDir);
  const box = createSecretBox(opts.secretKey);
  const now = opts.now ?? Date.now;
  const fences = createPortalFences(now);
  try {
    await fs.mkdir(layout.portalsDir);
  } catch (err) {
    throw new AppError('STORE_UNAVAILABLE', `cannot create ${layout.portalsDir}: ${err instanceof Error ? err.message : String(err)}`, 500, undefined, err);
  }

  const portalsDoc = await JsonDocument.open(fs, layout.portalsFile, 'portals', undefined, { portals: {} as Record<string, Portal> }, log);
  const settingsDocs = new PortalDocuments<DocumentOf<SettingsDocuments>>(fs, layout, 'settings.json', 'settings', () => ({}), log, fences);
  const bindingsDocs = new PortalDocuments<DocumentOf<BindingsDocuments>>(fs, layout, 'bindings.json', 'bindings', () => ({ bindings: [] }), log, fences);
  const contactDocs = new PortalDocuments<DocumentOf<ContactSyncDocuments>>(fs, layout, 'contact-sync.json', 'contact-sync', () => ({ entries: {} }), log, fences);
  const missedDocs = new PortalDocuments<DocumentOf<MissedCallTaskDocuments>>(fs, layout, 'missed-call-tasks.json', 'missed-call-tasks', () => ({ open: {} }), log, fences);
  const calls = createCallsRepository(fs, layout, log, fences);
  const outbox = createOutboxRepository(fs, layout, log, fences, opts.now);

  for (const memberId of await portalDirectories(fs, layout.portalsDir, portalsDoc.data.portals, log)) {
    await settingsDocs.load(memberId);
    await bindingsDocs.load(memberId);
    await contactDocs.load(memberId);
    await missedDocs.load(memberId);
    await calls.load(memberId);
    await outbox.load(memberId);
  }

  const store = composeStore(
    { portals: portalsDoc, settings: settingsDocs, bindings: bindingsDocs, contactSync: contactDocs, missedCallTasks: missedDocs },
    { calls, outbox }, box, fences, log,
    (memberId) => fs.rm(layout.portalDir(memberId)),
  );
  const { settings } = store;
  if (fences.portals().length > 0) {
    log.warn({ portals: fences.portals() }, 'started with fenced portals: their data cannot be read (see the errors above); every other portal is served');
  }

  /** Starts one unreadable file afresh; answers where the old one was kept, or undefined when it is not a portal file. */
  const startAfresh = async (memberId: string, file: Fence['file'], at: number): Promise<string | undefined> => {
    switch (file) {
      case 'settings.json': {
        const keptAs = await settingsDocs.startAfresh(memberId, at);
        settings.forget(memberId);
        return keptAs;
      }
      case 'bindings.json': return bindingsDocs.startAfresh(memberId, at);
      case 'contact-sync.json': return contactDocs.startAfresh(memberId, at);
      case 'missed-call-tasks.json': return missedDocs.startAfresh(memberId, at);
      case 'calls.jsonl': return calls.startAfresh(memberId, at);
      case 'outbox.jsonl': return outbox.startAfresh(memberId, at);
      default: return undefined;
    }
  };

  /** One repair at a time per store: two admins clicking at once must not move the same file twice. */
  let repairing: Promise<unknown> = Promise.resolve();
  const repairNow = (memberId: string): Promise<RepairResult> => {
    const at = now();
    return repairFences(fences, memberId, async (fence) => {
      const keptAs = await startAfresh(memberId, fence.file, at);
      if (keptAs !== undefined) {
        log.warn({ portal: memberId, file: fence.file, keptAs }, 'repair: the unreadable file was set aside and the portal starts it afresh');
      }
      return keptAs;
    });
  };

  return {
    ...store,
    repairPortal(memberId) {
      const run = repairing.then(() => repairNow(memberId));
      repairing = run.catch(() => undefined);
      return run;
    },
    async close() {
      await Promise.all([portalsDoc.settled(), settingsDocs.settled(), bindingsDocs.settled(), contactDocs.settled(), missedDocs.settled()]);
      await calls.close();
      await outbox.close();
    },
  };
}

/**
 * The portals that have a directory. The directory name is the memberId unless it had to be hashed; then the
 * portals document (which knows every memberId) maps it back.
 */
async function portalDirectories(fs: StoreFs, dir: string, known: Record<string, Portal>, log: Logger): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    if (isMissing(err)) return [];
    throw err;
  }
  const byDir = new Map(Object.keys(known).map((memberId) => [portalDirName(memberId), memberId]));
  return names.filter((n) => !n.startsWith('.')).map((name) => {
    const memberId = byDir.get(name);
    if (memberId === undefined && name.startsWith('h-')) {
      log.warn({ dir: name }, 'a portal directory whose portal is not in portals.json; loading it under its directory name');
    }
    return memberId ?? name;
  });
}
