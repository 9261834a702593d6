import express, { type Request, type Response } from 'express';
import { sendJsonIfChanged } from '../conditional.js';
import { frameUser } from '../context.js';
import type { StatusResponse } from '../../../contract/api-shapes.js';
import { portalStatus, type PbxStatusLookup } from '../../portals/status.js';
import type { Store } from '../../store/types.js';
import type { Outbox } from '../../outbox/types.js';

/** GET /api/status — install state, needs-reinstall, PBX link, outbox backlog (StatusResponse); 304 when unchanged. */
export function statusRouter(deps: { store: Store; outbox: Outbox; pbxStatus: PbxStatusLookup }): express.Router {
  const router = express.Router();
  router.get('/status', (req: Request, res: Response) => {
    const body: StatusResponse = portalStatus(deps, frameUser(res));
    sendJsonIfChanged(req, res, body);
  });
  return router;
}
