import { createHash } from 'node:crypto';
import { join } from 'node:path';

/**
 * Where things live under DATA_DIR:
 *   portals.json                      every portal (tokens sealed)
 *   portals/<portal>/settings.json    settings (PBX secrets sealed)
 *   portals/<portal>/bindings.json    user ↔ extension bindings
 *   portals/<portal>/contact-sync.json
 *   portals/<portal>/missed-call-tasks.json  the open missed-call task per outside number
 *   portals/<portal>/calls.jsonl      call journal (append-only)
 *   portals/<portal>/outbox.jsonl     outbox journal (append-only)
 * One directory per portal so a write never rewrites another portal's data and removal is one rm.
 */
export function portalDirName(memberId: string): string {
  // member_id is a hex string in practice; anything else is hashed so it can never escape the directory.
  if (/^[A-Za-z0-9_-]{1,80}$/.test(memberId)) return memberId;
  return `h-${createHash('sha256').update(memberId).digest('hex').slice(0, 32)}`;
}

export interface StoreLayout {
  root: string;
  portalsFile: string;
  portalsDir: string;
  portalDir(memberId: string): string;
  portalFile(memberId: string, name: PortalFileName): string;
}

export type PortalFileName = 'settings.json' | 'bindings.json' | 'contact-sync.json' | 'missed-call-tasks.json' | 'calls.jsonl' | 'outbox.jsonl';

export function storeLayout(root: string): StoreLayout {
  const portalsDir = join(root, 'portals');
  return {
    root,
    portalsFile: join(root, 'portals.json'),
    portalsDir,
    portalDir: (memberId) => join(portalsDir, portalDirName(memberId)),
    portalFile: (memberId, name) => join(portalsDir, portalDirName(memberId), name),
  };
}
