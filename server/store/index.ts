import { createSecretBox } from '../crypto.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { createBindingsRepository, type BindingsDocuments } from './bindings.js';
import { createCallsRepository } from './calls.js';
import { createContactSyncRepository, type ContactSyncDocuments } from './contact-sync.js';
import { JsonDocument } from './document.js';
import { createPortalFences, type Fence } from './fences.js';
import { createMissedCallTasksRepository, type MissedCallTaskDocuments } from './missed-call-tasks.js';
import { isMissing, nodeFs, type StoreFs } from './fs.js';
import { portalDirName, storeLayout } from './layout.js';
import { createOutboxRepository } from './outbox.js';
import { PortalDocuments, type PortalDocumentSet } from './portal-documents.js';
import { createPortalsRepository } from './portals.js';
import { openPostgresStore } from './postgres/index.js';
import type { Portal } from './records.js';
import { createSettingsRepository, type SettingsDocuments } from './settings.js';
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
}

/** The store the configuration names: PostgreSQL when a database URL is given, else the file store in DATA_DIR. */
export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  if (opts.databaseUrl !== undefined) {
    return openPostgresStore({ databaseUrl: opts.databaseUrl, secretKey: opts.secretKey, log: opts.log, ...(opts.now ? { now: opts.now } : {}) });
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

  const portals = createPortalsRepository(portalsDoc, box, fences, log);
  const settings = createSettingsRepository(settingsDocs, box, fences, log);
  for (const { memberId } of portals.list()) settings.check(memberId);
  const bindings = createBindingsRepository(bindingsDocs);
  const contactSync = createContactSyncRepository(contactDocs);
  const missedCallTasks = createMissedCallTasksRepository(missedDocs);
  if (fences.portals().length > 0) {
    log.warn({ portals: fences.portals() }, 'started with fenced portals: their data cannot be read (see the errors above); every other portal is served');
  }

  /** One repair at a time per store: two admins clicking at once must not move the same file twice. */
  let repairing: Promise<unknown> = Promise.resolve();
  const repairNow = async (memberId: string): Promise<RepairResult> => {
    const at = now();
    const repaired: RepairResult['repaired'] = [];
    const remaining: Fence[] = [];
    for (const fence of fences.list(memberId)) {
      if (fence.repair !== 'repair') {
        remaining.push(fence);
        continue;
      }
      let keptAs: string;
      switch (fence.file) {
        case 'settings.json':
          keptAs = await settingsDocs.startAfresh(memberId, at);
          settings.forget(memberId);
          break;
        case 'bindings.json':
          keptAs = await bindingsDocs.startAfresh(memberId, at);
          break;
        case 'contact-sync.json':
          keptAs = await contactDocs.startAfresh(memberId, at);
          break;
        case 'missed-call-tasks.json':
          keptAs = await missedDocs.startAfresh(memberId, at);
          break;
        case 'calls.jsonl':
          keptAs = await calls.startAfresh(memberId, at);
          break;
        case 'outbox.jsonl':
          keptAs = await outbox.startAfresh(memberId, at);
          break;
        default:
          remaining.push(fence);
          continue;
      }
      log.warn({ portal: memberId, file: fence.file, keptAs }, 'repair: the unreadable file was set aside and the portal starts it afresh');
      repaired.push({ file: fence.file, keptAs });
    }
    return { repaired, remaining };
  };

  const store: Store = {
    fences, portals, settings, bindings, calls, contactSync, missedCallTasks, outbox,
    repairPortal(memberId) {
      const run = repairing.then(() => repairNow(memberId));
      repairing = run.catch(() => undefined);
      return run;
    },
    async removePortal(memberId: string) {
      await outbox.removePortal(memberId);
      await calls.removePortal(memberId);
      await contactSync.clear(memberId);
      await missedCallTasks.clear(memberId);
      await bindingsDocs.remove(memberId);
      await settings.clear(memberId);
      await portals.remove(memberId);
      await fs.rm(layout.portalDir(memberId));
      for (const fence of fences.list(memberId)) fences.lift(memberId, fence.file);
      log.info({ portal: memberId }, 'removed every stored record of the portal');
    },
    async close() {
      await Promise.all([portalsDoc.settled(), settingsDocs.settled(), bindingsDocs.settled(), contactDocs.settled(), missedDocs.settled()]);
      await calls.close();
      await outbox.close();
    },
  };
  return store;
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
