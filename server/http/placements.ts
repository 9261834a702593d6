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
  const serve = (html: () => string) => (_req: Request, res: Response) => {
    res.status(200).type('html').setHeader('Cache-Control', 'no-store');
    res.send(html());
  };
  // The frame POSTs form fields we do not need server-side: the client gets auth from the parent window.
  // The call card has a page of its own, lighter than the app page (it opens while the phone rings).
  const pages: [string, () => string][] = [
    ['/', () => files.appHtml()],
    ['/placement/crm-tab', () => files.appHtml()],
    ['/placement/call-card', () => files.callCardHtml()],
  ];
  for (const [path, html] of pages) {
    router.get(path, serve(html));
    router.post(path, serve(html));
  }
  router.use(staticAssets(files.dir));
  return router;
}
