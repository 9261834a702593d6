import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import express, { type Request, type Response } from 'express';
import { securityHeaders } from '../../server/http/middleware/security-headers.js';

/**
 * Serves the built client the way the product does (GET and POST on the app page and placements) with a scripted
 * /api, so the browser test of the frame protocol and the views does not depend on the server's business parts.
 */
export interface StubApi {
  url: string;
  requests: { method: string; path: string; authorization: string; memberId: string }[];
  close(): Promise<void>;
}

const DIST = join(import.meta.dirname, '..', '..', 'dist', 'client');

export function clientBuilt(): boolean {
  return existsSync(join(DIST, 'client', 'index.html'));
}

export async function startStubApi(routes: Record<string, (req: Request) => unknown>): Promise<StubApi> {
  const html = readFileSync(join(DIST, 'client', 'index.html'), 'utf8');
  // The call card's own page (issue 12 point 9), as the product serves it.
  const callCardHtml = readFileSync(join(DIST, 'client', 'call-card.html'), 'utf8');
  const requests: StubApi['requests'] = [];
  const app = express();
  // The product's headers, so the browser runs the built client under the same CSP as in production.
  app.use(securityHeaders({ portals: () => [], extraAncestors: ['http://127.0.0.1:*'] }));
  for (const path of ['/', '/placement/crm-tab', '/placement/call-card']) {
    app.all(path, (_req, res) => {
      res.type('html').send(path === '/placement/call-card' ? callCardHtml : html);
    });
  }
  app.use(express.static(DIST, { index: false }));
  app.use('/api', express.json(), (req: Request, res: Response) => {
    requests.push({ method: req.method, path: req.path, authorization: req.get('authorization') ?? '', memberId: req.get('x-member-id') ?? '' });
    const route = routes[`${req.method} ${req.path}`];
    if (!route) {
      res.status(404).json({ error: 'NOT_FOUND', message: `no stub for ${req.method} ${req.path}` });
      return;
    }
    res.json(route(req));
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
