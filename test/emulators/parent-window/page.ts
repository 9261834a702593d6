import { readFileSync } from 'node:fs';
import express, { type Request, type Response, type Router } from 'express';

/** A frame token as the Bitrix24 emulator mints it (test/emulators/bitrix24/harness.ts `frameToken`). */
export interface MintedToken {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

export interface ParentWindowOptions {
  /** Where the product serves the app page and placements, e.g. http://127.0.0.1:41000 */
  appUrl: string;
  /** Gets a frame token for the user opening the app (the portal's job in real life). */
  mintToken(memberId: string, userId: number): Promise<MintedToken>;
  /** Extra HTML placed above the app frame (the demo's call controls). */
  controlsHtml?: string;
  /** Script URL loaded after the frame protocol (the demo's controls). */
  controlsScript?: string;
  title?: string;
}

/** What one page shows: which portal and user, which placement, in which language. */
export interface PageRequest {
  memberId: string;
  userId: number;
  isAdmin: boolean;
  lang: string;
  placement: string;
  placementOptions: Record<string, string>;
}

const PROTOCOL_JS = readFileSync(new URL('./frame-protocol.js', import.meta.url), 'utf8');

/** JSON inside <script type="application/json">: "<" escaped so no value can close the tag. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The Bitrix24 window around the app: the page's own origin is the portal DOMAIN the SDK talks to (window.name),
 * so it must be served from the host the browser uses for it.
 */
export function parentWindowHtml(opts: ParentWindowOptions, page: PageRequest, token: MintedToken, pageHost: string, base: string): string {
  const config = {
    appUrl: opts.appUrl,
    domain: pageHost,
    protocol: 0,
    lang: page.lang,
    memberId: page.memberId,
    userId: page.userId,
    isAdmin: page.isAdmin,
    placement: page.placement,
    placementOptions: page.placementOptions,
    auth: { AUTH_ID: token.accessToken, REFRESH_ID: token.refreshToken, AUTH_EXPIRES: token.expiresIn },
    refreshUrl: `${base}/refresh`,
    frameTitle: opts.title ?? 'PBX connector',
  };
  return `<!doctype html>
<html lang="${escapeHtml(page.lang)}">
<head>
<meta charset="utf-8" />
<title>${escapeHtml(opts.title ?? 'Bitrix24 (emulated window)')}</title>
<link rel="icon" type="image/svg+xml" href="${escapeHtml(new URL('/favicon.svg', opts.appUrl).toString())}" />
<style>
  body { margin: 0; font-family: system-ui, sans-serif; background: #eef2f4; color: #1f2329; }
  header { background: #00629b; color: #fff; padding: 10px 16px; font-weight: 600; }
  main { display: grid; gap: 12px; padding: 12px; }
  #app-host { background: #fff; border-radius: 12px; overflow: hidden; max-width: 960px; }
  .controls { background: #fff; border-radius: 12px; padding: 12px; max-width: 960px; }
  .controls button { margin: 4px; padding: 6px 10px; border-radius: 8px; border: 1px solid #bdc1c6; background: #f5f7f8; cursor: pointer; }
  .controls button:focus-visible { outline: 2px solid #2066b0; outline-offset: 2px; }
</style>
</head>
<body>
<header id="parent-window-title">Bitrix24 · ${escapeHtml(page.placement)}</header>
<main>
${opts.controlsHtml ?? ''}
<div id="app-host"></div>
</main>
<script type="application/json" id="parent-window-config">${scriptJson(config)}</script>
<script>${PROTOCOL_JS}</script>
${opts.controlsScript ? `<script src="${escapeHtml(opts.controlsScript)}"></script>` : ''}
</body>
</html>`;
}

function pageRequest(req: Request): PageRequest {
  const q = req.query as Record<string, string | undefined>;
  let placementOptions: Record<string, string> = {};
  if (q.options) {
    const parsed: unknown = JSON.parse(q.options);
    if (parsed && typeof parsed === 'object') placementOptions = Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
  }
  return {
    memberId: q.member ?? '',
    userId: Number.parseInt(q.user ?? '1', 10),
    isAdmin: q.admin === '1',
    lang: q.lang ?? 'en',
    placement: q.placement ?? 'DEFAULT',
    placementOptions,
  };
}

/**
 * This page stands in for Bitrix24's own window (its inline script plays the portal's side of the frame protocol).
 * Mounted on the product's server (the demo), it must not inherit the product's Content-Security-Policy, which is
 * written for the product's own pages: Bitrix24's pages are not served under it in real life.
 */
export function servedAsBitrix24Window(res: Response): void {
  res.removeHeader('Content-Security-Policy');
}

/**
 * GET {base}?member=&user=&admin=1&lang=&placement=&options={json} → the parent page with a fresh frame token;
 * POST {base}/refresh {memberId, userId} → a new token for the frame's refreshAuth.
 */
export function parentWindowRouter(opts: ParentWindowOptions, base = '/parent'): Router {
  const router = express.Router();
  router.get(base, async (req: Request, res: Response) => {
    const page = pageRequest(req);
    if (!page.memberId || !Number.isFinite(page.userId)) {
      res.status(400).type('text').send('member and user are required');
      return;
    }
    const token = await opts.mintToken(page.memberId, page.userId);
    servedAsBitrix24Window(res);
    res.type('html').setHeader('Cache-Control', 'no-store');
    res.send(parentWindowHtml(opts, page, token, req.get('host') ?? 'localhost', base));
  });
  router.post(`${base}/refresh`, express.json(), async (req: Request, res: Response) => {
    const body = req.body as { memberId?: unknown; userId?: unknown };
    const token = await opts.mintToken(String(body.memberId ?? ''), Number(body.userId));
    res.json({ AUTH_ID: token.accessToken, REFRESH_ID: token.refreshToken, AUTH_EXPIRES: token.expiresIn });
  });
  return router;
}

/** Serves the parent page on its own loopback port (browser tests: the portal origin differs from the app's). */
export async function startParentWindow(opts: ParentWindowOptions): Promise<{ url: string; close(): Promise<void> }> {
  const app = express();
  app.use(parentWindowRouter(opts));
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', () => resolve());
    server.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/parent`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
