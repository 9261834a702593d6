import express, { type NextFunction, type Request, type Response } from 'express';
import { APP_SCOPES } from '../bitrix/scopes.js';
import { escapeHtml } from './client-files.js';

/**
 * GET / opened directly in a browser (issue 12 point 11): Bitrix24 opens the app page with a form POST into its frame
 * (reference §1.2, as test/emulators/parent-window does), carrying DOMAIN and APP_SID in the query; a plain GET without
 * them, not loaded into a frame (Sec-Fetch-Dest), is a person who typed the address. They get a page that says what
 * this is and how to install it, instead of the app failing to reach a Bitrix24 window it does not have.
 */
export function isOpenedOutsideBitrix24(req: Request): boolean {
  const query = req.query as Record<string, unknown>;
  const dest = req.get('sec-fetch-dest');
  return req.method === 'GET' && query.DOMAIN === undefined && query.APP_SID === undefined && dest !== 'iframe' && dest !== 'frame';
}

export function landingPageHtml(publicUrl: string): string {
  const url = (path: string) => `<code>${escapeHtml(`${publicUrl}${path}`)}</code>`;
  const insecure = !publicUrl.startsWith('https://');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>PBX connector for Bitrix24</title>
<link rel="icon" type="image/svg+xml" href="/favicon.svg">
<style>
  body { margin: 0 auto; max-width: 44rem; padding: 2rem 1rem; font: 16px/1.5 system-ui, sans-serif; color: #1f2329; }
  code { background: #f1f3f5; padding: 0.1rem 0.3rem; border-radius: 4px; }
  li { margin: 0.3rem 0; }
  .warn { border-left: 4px solid #c2410c; padding: 0.25rem 0.75rem; background: #fff7ed; }
</style>
</head>
<body>
<main>
<h1>PBX connector for Bitrix24</h1>
<p>This server connects a Yeastar P-Series PBX to Bitrix24 CRM: the caller's card pops up, calls and recordings are logged in the CRM,
employees call from Bitrix24, and contacts reach the PBX phonebook. It runs inside Bitrix24; there is nothing to do on this page.</p>
<h2>Install it in your Bitrix24</h2>
<ol>
<li>In Bitrix24 (as an administrator): <b>Applications → Developer resources → Other → Local application</b>.</li>
<li>Type: <b>server application with a user interface</b>.</li>
<li>Your handler path: ${url('/')}</li>
<li>Initial installation path: ${url('/install')}</li>
<li>Permissions: ${APP_SCOPES.map((s) => `<code>${s}</code>`).join(', ')}.</li>
<li>Save, put the Application ID and key into <code>B24_CLIENT_ID</code> and <code>B24_CLIENT_SECRET</code> on this server, restart it.</li>
<li>Open the application in Bitrix24: it installs itself, then asks for the PBX address.</li>
</ol>
${insecure ? `<p class="warn">This server's public address (<code>PUBLIC_URL</code>) is not HTTPS: Bitrix24 Cloud cannot open it. Put the server behind a reverse proxy with TLS and set <code>PUBLIC_URL</code> to its address.</p>\n` : ''}<p>Setup, settings and troubleshooting: the README of the project.</p>
</main>
</body>
</html>`;
}

export function landingRouter(opts: { publicUrl: string }): express.Router {
  const router = express.Router();
  const page = landingPageHtml(opts.publicUrl);
  router.get('/', (req: Request, res: Response, next: NextFunction) => {
    if (!isOpenedOutsideBitrix24(req)) return next();
    // Varies with the frame headers: a cache must not hand this page to the Bitrix24 frame.
    res.status(200).type('html').setHeader('Cache-Control', 'no-store');
    res.setHeader('Vary', 'Sec-Fetch-Dest');
    res.send(page);
  });
  return router;
}
