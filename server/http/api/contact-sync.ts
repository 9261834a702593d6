/**
 * Contact sync's re-sync: `POST /contact-sync/resync` (admin) starts re-syncing every record synced so far,
 * `GET /contact-sync/resync` answers its progress and counts (mounted under /api after frame auth). Documented in
 * docs/api-settings.md.
 */
import express, { type RequestHandler, type Router } from 'express';
import { portalOf } from './route-support.js';
import { AppError } from '../../errors.js';
import type { Store } from '../../store/types.js';
import { locals } from '../context.js';
import type { ResyncResponse } from '../../../contract/api-shapes.js';

export interface ContactSyncRouterDeps {
  store: Store;
  /**
   * Starts the re-sync and reads its progress where it runs: the portal's owner, which holds the PBX link (several
   * instances: handed over by server/cluster/contact-sync-handover.ts). `start` throws PBX_NOT_CONNECTED there
   * when the PBX is not linked.
   */
  resync: {
    start(portal: string): Promise<ResyncResponse>;
    progress(portal: string): Promise<ResyncResponse | null>;
  };
  requireAdmin: RequestHandler;
}

const view = (progress: ResyncResponse | null): ResyncResponse => progress ?? {
  running: false, total: 0, done: 0, written: 0, unchanged: 0, rewritten: 0, removed: 0, skipped: 0, failed: 0, startedAt: null, finishedAt: null,
};

export function contactSyncRouter(deps: ContactSyncRouterDeps): Router {
  const router = express.Router();

  router.get('/contact-sync/resync', async (_req, res) => {
    res.json(view(await deps.resync.progress(portalOf(res))));
  });

  router.post('/contact-sync/resync', deps.requireAdmin, async (_req, res) => {
    const portal = portalOf(res);
    const settings = deps.store.settings.get(portal);
    if (!settings.contactSync.enabled || !settings.contactSync.phonebookId) {
      throw new AppError('CONTACT_SYNC_OFF', 'contact sync is off: turn it on and choose a phonebook first', 409);
    }
    const progress = await deps.resync.start(portal);
    locals(res).log.info({ portal, total: progress.total }, 'contact re-sync requested');
    res.status(202).json(view(progress));
  });

  return router;
}
