import express, { type Request, type Response } from 'express';
import { AppError } from '../errors.js';
import { locals } from './context.js';
import { escapeHtml, type ClientFiles } from './client-files.js';
import { readInstallerPost } from '../portals/install-request.js';
import { installPortal, type InstallDeps } from '../portals/install.js';
import { mapError } from './middleware/errors.js';
import { bytes, declaredWithin } from './middleware/body.js';

function errorPage(message: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Installation failed</title></head>`
    + `<body><h1>Installation failed</h1><p>${escapeHtml(message)}</p><p>Fix the cause and open the app again to retry.</p></body></html>`;
}

/**
 * POST /install — the installer page (installation-master.md). Bitrix24 POSTs the admin's tokens into the frame;
 * we store the portal, bind what the app needs, then answer install.html itself (no redirect: the page must stay
 * at this URL with its DOMAIN/APP_SID query so the frame SDK can reach the parent and call installFinish()).
 */
export function installRouter(deps: { install: InstallDeps; files: ClientFiles; defaultServerEndpoint: string }): express.Router {
  const router = express.Router();
  // A declared oversize body is refused before a byte is read (body-parser would drain it first).
  const parse = [declaredWithin(bytes('32kb')), express.urlencoded({ extended: true, limit: '32kb', parameterLimit: 200 })];
  router.post('/install', ...parse, async (req: Request, res: Response) => {
    const grant = readInstallerPost(req.body, req.query, deps.defaultServerEndpoint);
    try {
      await installPortal(deps.install, grant);
    } catch (err) {
      const { status, body } = mapError(err, locals(res).requestId);
      locals(res).log.error({ portal: grant.memberId, err }, 'install failed');
      res.status(status).type('html').send(errorPage(body.message));
      return;
    }
    res.status(200).type('html').send(deps.files.installHtml());
  });
  router.get('/install', (_req: Request, _res: Response) => {
    throw new AppError('BAD_REQUEST', 'the installer is opened by Bitrix24 with a POST: set this URL as the app\'s installer path', 400);
  });
  return router;
}
