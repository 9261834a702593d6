import type { SecretBox } from '../crypto.js';
import { notFound } from '../errors.js';
import type { JsonDocument } from './document.js';
import type { Portal } from './records.js';
import { openPortal, sealPortal } from './secrets.js';
import { SerialQueue } from './serial.js';
import type { PortalsRepository } from './types.js';

export type PortalsDocument = JsonDocument<{ portals: Record<string, Portal> }>;

/** All portals in one small document (portals.json); tokens sealed on disk, plain in memory. */
export function createPortalsRepository(doc: PortalsDocument, box: SecretBox): PortalsRepository {
  const plain = new Map<string, Portal>();
  const serial = new SerialQueue();
  for (const [memberId, stored] of Object.entries(doc.data.portals ?? {})) plain.set(memberId, openPortal(box, stored));

  const write = async (memberId: string, next: Portal | undefined): Promise<void> => {
    const sealed = next ? sealPortal(box, next) : undefined;
    await doc.mutate((data) => {
      const portals = { ...data.portals };
      if (sealed) portals[memberId] = sealed;
      else delete portals[memberId];
      return { ...data, portals };
    });
    if (next) plain.set(memberId, next);
    else plain.delete(memberId);
  };

  return {
    get: (memberId) => {
      const portal = plain.get(memberId);
      return portal ? structuredClone(portal) : undefined;
    },
    list: () => [...plain.values()].map((p) => structuredClone(p)),
    put: (portal) => {
      const copy = structuredClone(portal);
      return serial.run(() => write(copy.memberId, copy));
    },
    // Read-modify-write in the serial queue: a token refresh and a needsReinstall flag landing together both stick.
    update: (memberId, patch) => {
      const copy = structuredClone(patch);
      return serial.run(async () => {
        const current = plain.get(memberId);
        if (!current) throw notFound(`portal ${memberId} is not installed`);
        const next: Portal = { ...current, ...copy, memberId };
        await write(memberId, next);
        return structuredClone(next);
      });
    },
    remove: (memberId) => serial.run(() => write(memberId, undefined)),
  };
}
