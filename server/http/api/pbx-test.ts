import express, { type RequestHandler, type Router } from 'express';
import { z } from 'zod';
import { frameUser } from '../context.js';
import type { PbxTestResponse } from '../../../contract/api-shapes.js';
import type { Store } from '../../store/types.js';
import { PbxError } from '../../pbx/adapter.js';
import type { PbxSupervisor } from '../../pbx/supervisor.js';
import { bytes, jsonBody } from '../middleware/body.js';

/**
 * `POST /pbx/test` (mounted under `/api`, behind frame auth): tries the PBX settings the admin typed, or the
 * saved ones, and answers in the PBX's own words. The saved secret is only reused for the saved address:
 * an admin who changes the address must type the secret again, so a stored secret never goes to a new host.
 */

export interface PbxTestRouteDeps {
  requireAdmin: RequestHandler;
  store: Store;
  supervisor: Pick<PbxSupervisor, 'testConnection'>;
}

const bodySchema = z.object({
  baseUrl: z.string().trim().min(1).max(2048),
  clientId: z.string().trim().min(1).max(256),
  clientSecret: z.string().max(512).optional(),
});

function sameAddress(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

export function pbxTestRoute(deps: PbxTestRouteDeps): Router {
  const router = express.Router();
  router.post('/pbx/test', deps.requireAdmin, jsonBody(bytes('16kb')), async (req, res) => {
    const parsed = bodySchema.safeParse(req.body);
    if (!parsed.success) {
      const answer: PbxTestResponse = { ok: false, code: 'BAD_REQUEST', message: 'baseUrl and clientId are required' };
      res.status(400).json(answer);
      return;
    }
    const { baseUrl, clientId } = parsed.data;
    const saved = deps.store.settings.get(frameUser(res).portal.memberId).pbx;
    let clientSecret = parsed.data.clientSecret ?? '';
    if (clientSecret === '') {
      if (!saved || saved.clientSecret === '' || !sameAddress(saved.baseUrl, baseUrl)) {
        const answer: PbxTestResponse = { ok: false, code: 'SECRET_REQUIRED', message: 'Enter the Client Secret (none is saved for this PBX address)' };
        res.status(400).json(answer);
        return;
      }
      clientSecret = saved.clientSecret;
    }
    try {
      const result = await deps.supervisor.testConnection({
        baseUrl, clientId, clientSecret, events: saved?.events ?? 'websocket', webhookSecret: saved?.webhookSecret ?? '',
      });
      const answer: PbxTestResponse = { ok: true, message: `Connected: the PBX lists ${result.extensions} extensions`, extensions: result.extensions };
      res.json(answer);
    } catch (err) {
      const e = err instanceof PbxError ? err : new PbxError('PBX_ERROR', err instanceof Error ? err.message : String(err));
      const answer: PbxTestResponse = { ok: false, code: e.code, message: e.message.replace(/^[A-Z_]+: /, '') };
      res.json(answer);
    }
  });
  return router;
}
