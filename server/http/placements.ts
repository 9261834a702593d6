import express, { type Request, type Response } from 'express';
import type { ClientFiles } from './client-files.js';
import { staticAssets } from './static-assets.js';

/**
 * App page and placements (widgets): Bitrix24 loads them into iframes with a POST (reference §1.2), so every entry
 * answers the built client to GET and POST alike; the client reads PLACEMENT from the frame SDK. Nothing here sets
 * X-Frame-Options: the page must be embeddable in the portal.
 */
export function placementsRouter(files: ClientFiles): express.Router {
  const router = express.Router();
  const page = (_req: Request, res: Response) => {
    res.status(200).type('html').setHeader('Cache-Control', 'no-store');
    res.send(files.appHtml());
  };
  // The frame POSTs form fields we do not need server-side: the client gets auth from the parent window.
  for (const path of ['/', '/placement/crm-tab', '/placement/call-card']) {
    router.get(path, page);
    router.post(path, page);
  }
  router.use(staticAssets(files.dir));
  return router;
}
