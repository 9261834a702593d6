import { z } from 'zod';
import type { ResyncResponse } from '../../contract/api-shapes.js';
import type { PortalWork } from './portal-work.js';

/**
 * Contact sync's re-sync (POST/GET /api/contact-sync/resync) on several instances. The re-sync writes every synced
 * record to the PBX phonebook, so it runs on the portal's owner, over its PBX link (a non-owner never logs in to the
 * PBX): the start is handed over as portal work. Its progress lives where it runs, in the owner's memory, and is asked
 * of the owner too. Why not the shared store: every record done would be a database write and a NOTIFY to every
 * instance, for counters that only the admin's open page polls; asking the owner costs one portal_work row per poll,
 * only while someone looks. A re-sync stops with its owner (a new owner answers "none running"; the admin starts it
 * again), as it does with one instance that restarts.
 */

const START = 'contacts.resyncStart';
const PROGRESS = 'contacts.resyncProgress';

const progressShape = z.object({
  running: z.boolean(), total: z.number(), done: z.number(), written: z.number(), unchanged: z.number(), rewritten: z.number(),
  removed: z.number(), skipped: z.number(), failed: z.number(), startedAt: z.number().nullable(), finishedAt: z.number().nullable(),
});

/** The re-sync as it runs on the owner (contacts/sync.ts, with the owner's PBX check). */
export interface ContactResync {
  start(portal: string): ResyncResponse;
  progress(portal: string): ResyncResponse | null;
}

/** The same, from any instance: here on the owner (or without a shared database), else handed to the owner. */
export interface ContactResyncAnywhere {
  start(portal: string): Promise<ResyncResponse>;
  progress(portal: string): Promise<ResyncResponse | null>;
}

export function handContactResyncToOwner(local: ContactResync, work: PortalWork): ContactResyncAnywhere {
  work.handle(START, (portal) => Promise.resolve(local.start(portal)));
  work.handle(PROGRESS, (portal) => Promise.resolve(local.progress(portal)));
  return {
    start: async (portal) => progressShape.parse(await work.run(portal, START, {})),
    progress: async (portal) => progressShape.nullable().parse(await work.run(portal, PROGRESS, {})),
  };
}
