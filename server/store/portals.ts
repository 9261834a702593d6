import type { SecretBox } from '../crypto.js';
import { AppError, notFound } from '../errors.js';
import { createKeyedSerial } from '../keyed-serial.js';
import type { Logger } from '../log.js';
import { copyRecord } from './copy.js';
import type { PortalFences } from './fences.js';
import type { Portal } from './records.js';
import { openPortal, sealPortal, type PortalSecretField } from './secrets.js';
import type { PortalsRepository } from './types.js';

/** The one document of every portal: a JsonDocument (portals.json) or its PostgreSQL table (store/postgres/documents.ts). */
export interface PortalsDocument {
  readonly data: { portals: Record<string, Portal> };
  mutate(change: (current: { portals: Record<string, Portal> }) => { portals: Record<string, Portal> }): Promise<void>;
}

/**
 * All portals in one small document (portals.json); tokens sealed on disk, plain in memory.
 *
 * A portal whose sealed token does not open is fenced (`reinstall`), not a reason to stop the server: the token
 * reads as '' (not set) and its ciphertext is written back unchanged with every later write of the record, so
 * nothing is lost should the operator restore the right key. A re-install that stores new tokens lifts the fence.
 * When NO sealed value of any portal opens because the key does not authenticate them, the key is wrong for the
 * whole data directory (an operator error, not one tenant's damage): that still stops the start with
 * SECRET_KEY_MISMATCH, as before, rather than fencing every tenant and letting re-installs seal with the wrong key.
 */
export interface PortalsStore extends PortalsRepository {
  /**
   * Another instance wrote portal rows (PostgreSQL store): `reload` reads them into the document and answers their
   * member ids, which are then opened again. In the repository's queue, so a reload never lands between this
   * instance's own write and the memory update after it.
   */
  refresh(reload: () => Promise<string[]>): Promise<string[]>;
}

export function createPortalsRepository(doc: PortalsDocument, box: SecretBox, fences: PortalFences, log: Logger): PortalsStore {
  const plain = new Map<string, Portal>();
  /** Per portal: the fields that did not open, with their ciphertext as stored. */
  const unopened = new Map<string, Map<PortalSecretField, string>>();
  // One key: every portal lives in the one document, so its writes go one after another.
  const serial = createKeyedSerial();
  const DOCUMENT = 'portals.json';
  let tried = 0;
  let mismatched = 0;
  for (const [memberId, stored] of Object.entries(doc.data.portals ?? {})) {
    const opened = openPortal(box, stored);
    plain.set(memberId, opened.plain);
    tried += opened.tried;
    mismatched += opened.unopened.filter((u) => u.code === 'SECRET_KEY_MISMATCH').length;
    if (opened.unopened.length === 0) continue;
    unopened.set(memberId, new Map(opened.unopened.map((u) => [u.field, u.stored])));
    const fields = opened.unopened.map((u) => u.field).join(', ');
    log.error({ portal: memberId, fields, codes: opened.unopened.map((u) => u.code).join(', ') },
      'PORTAL_FENCED: sealed values in portals.json cannot be opened; the portal is fenced off until the app is installed again');
    fences.add(memberId, { file: 'portals.json', repair: 'reinstall', reason: `${fields} ${opened.unopened.length === 1 ? 'does' : 'do'} not open` });
  }
  if (tried > 0 && mismatched === tried) {
    throw new AppError('SECRET_KEY_MISMATCH',
      'no stored secret can be decrypted: SECRET_KEY (or DATA_DIR/secret.key) is not the key they were written with; ' +
      'start with the right key (restore secret.key from the backup of this data directory)', 500);
  }

  /** Seals `next`; a field that did not open and was not given a new value keeps its stored ciphertext. */
  const sealKeeping = (memberId: string, next: Portal): { sealed: Portal; replaced: PortalSecretField[] } => {
    const sealed = sealPortal(box, next);
    const kept = unopened.get(memberId);
    const replaced: PortalSecretField[] = [];
    for (const [field, stored] of kept ?? []) {
      if (next[field] === '') sealed[field] = stored;
      else replaced.push(field);
    }
    return { sealed, replaced };
  };

  const write = async (memberId: string, next: Portal | undefined): Promise<void> => {
    const sealing = next ? sealKeeping(memberId, next) : undefined;
    await doc.mutate((data) => {
      const portals = { ...data.portals };
      if (sealing) portals[memberId] = sealing.sealed;
      else delete portals[memberId];
      return { ...data, portals };
    });
    if (next) plain.set(memberId, next);
    else plain.delete(memberId);
    const kept = unopened.get(memberId);
    if (!kept) return;
    for (const field of sealing?.replaced ?? [...kept.keys()]) kept.delete(field);
    if (kept.size === 0) {
      unopened.delete(memberId);
      fences.lift(memberId, 'portals.json');
      log.info({ portal: memberId }, 'the portal has readable tokens again; its portals.json fence is lifted');
    }
  };

  /** Opens the portal's record as the document holds it now (written by another instance). */
  const reopen = (memberId: string): void => {
    const stored = doc.data.portals[memberId];
    const opened = stored ? openPortal(box, stored) : undefined;
    if (opened) plain.set(memberId, opened.plain);
    else plain.delete(memberId);
    if (!opened || opened.unopened.length === 0) {
      if (unopened.delete(memberId)) fences.lift(memberId, DOCUMENT);
      return;
    }
    unopened.set(memberId, new Map(opened.unopened.map((u) => [u.field, u.stored])));
    const fields = opened.unopened.map((u) => u.field).join(', ');
    fences.add(memberId, { file: DOCUMENT, repair: 'reinstall', reason: `${fields} ${opened.unopened.length === 1 ? 'does' : 'do'} not open` });
  };

  return {
    refresh: (reload) => serial.run(DOCUMENT, async () => {
      const ids = await reload();
      for (const memberId of ids) reopen(memberId);
      return ids;
    }),
    get: (memberId) => {
      const portal = plain.get(memberId);
      return portal ? copyRecord(portal) : undefined;
    },
    list: () => [...plain.values()].map((p) => copyRecord(p)),
    put: (portal) => {
      const copy = copyRecord(portal);
      return serial.run(DOCUMENT, () => write(copy.memberId, copy));
    },
    // Read-modify-write in the serial queue: a token refresh and a needsReinstall flag landing together both stick.
    update: (memberId, patch) => {
      const copy = copyRecord(patch);
      return serial.run(DOCUMENT, async () => {
        const current = plain.get(memberId);
        if (!current) throw notFound(`portal ${memberId} is not installed`);
        const next: Portal = { ...current, ...copy, memberId };
        await write(memberId, next);
        return copyRecord(next);
      });
    },
    remove: (memberId) => serial.run(DOCUMENT, () => write(memberId, undefined)),
  };
}
