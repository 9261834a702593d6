import { createSecretBox } from '../crypto.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { createBindingsRepository, type BindingsDocuments } from './bindings.js';
import { createCallsRepository } from './calls.js';
import { createContactSyncRepository, type ContactSyncDocuments } from './contact-sync.js';
import { JsonDocument } from './document.js';
import { isMissing, nodeFs, type StoreFs } from './fs.js';
import { portalDirName, storeLayout } from './layout.js';
import { createOutboxRepository } from './outbox.js';
import { PortalDocuments } from './portal-documents.js';
import { createPortalsRepository } from './portals.js';
import type { Portal } from './records.js';
import { createSettingsRepository, type SettingsDocuments } from './settings.js';
import type { Store } from './types.js';

export { resolveSecretKey } from './secret-key.js';
export type { StoreFs } from './fs.js';

export interface OpenStoreOptions {
  dataDir: string;
  secretKey: string;
  log: Logger;
  /** Tests inject a failing disk here; production uses node:fs. */
  fs?: StoreFs;
  /** Clock for the outbox's done-item retention. */
  now?: () => number;
}

/**
 * Opens DATA_DIR: loads every document and replays every journal into memory. Fails with STORE_CORRUPT naming the
 * file when a document and its .bak are both unreadable, and with SECRET_KEY_MISMATCH when the key is not the one
 * the secrets were sealed with.
 */
export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const fs = opts.fs ?? nodeFs;
  const log = opts.log.child({ part: 'store' });
  const layout = storeLayout(opts.dataDir);
  const box = createSecretBox(opts.secretKey);
  try {
    await fs.mkdir(layout.portalsDir);
  } catch (err) {
    throw new AppError('STORE_UNAVAILABLE', `cannot create ${layout.portalsDir}: ${err instanceof Error ? err.message : String(err)}`, 500, undefined, err);
  }

  const portalsDoc = await JsonDocument.open(fs, layout.portalsFile, 'portals', undefined, { portals: {} as Record<string, Portal> }, log);
  const settingsDocs: SettingsDocuments = new PortalDocuments(fs, layout, 'settings.json', 'settings', () => ({}), log);
  const bindingsDocs: BindingsDocuments = new PortalDocuments(fs, layout, 'bindings.json', 'bindings', () => ({ bindings: [] }), log);
  const contactDocs: ContactSyncDocuments = new PortalDocuments(fs, layout, 'contact-sync.json', 'contact-sync', () => ({ entries: {} }), log);
  const calls = createCallsRepository(fs, layout, log);
  const outbox = createOutboxRepository(fs, layout, log, opts.now);

  for (const memberId of await portalDirectories(fs, layout.portalsDir, portalsDoc.data.portals, log)) {
    await settingsDocs.load(memberId);
    await bindingsDocs.load(memberId);
    await contactDocs.load(memberId);
    await calls.load(memberId);
    await outbox.load(memberId);
  }

  const portals = createPortalsRepository(portalsDoc, box);
  const settings = createSettingsRepository(settingsDocs, box);
  const bindings = createBindingsRepository(bindingsDocs);
  const contactSync = createContactSyncRepository(contactDocs);

  const store: Store = {
    portals, settings, bindings, calls, contactSync, outbox,
    async removePortal(memberId: string) {
      await outbox.removePortal(memberId);
      await calls.removePortal(memberId);
      await contactSync.clear(memberId);
      await bindingsDocs.remove(memberId);
      await settings.clear(memberId);
      await portals.remove(memberId);
      await fs.rm(layout.portalDir(memberId));
      log.info({ portal: memberId }, 'removed every stored record of the portal');
    },
    async close() {
      await Promise.all([portalsDoc.settled(), settingsDocs.settled(), bindingsDocs.settled(), contactDocs.settled()]);
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
