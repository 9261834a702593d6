/**
 * CRM reads for the call card: a record's open deals and activities. Documented in docs/api-calls.md.
 * The frame-auth middleware runs before this router, so the portal is the caller's own; the record id comes from the
 * CALL_CARD placement (CRM_ENTITY_TYPE / CRM_ENTITY_ID). The items are read with the agent's own frame token, so
 * Bitrix24's CRM rights decide what the card lists (contacts/open-items.ts).
 */
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { OpenItemsReader } from '../../contacts/open-items.js';
import { badRequest } from '../../errors.js';
import { frameUserAuth } from '../frame-token.js';
import type { OpenItemsResponse } from '../../../contract/api-shapes.js';

export interface CrmApiDeps {
  openItems: OpenItemsReader;
}

const openItemsQuery = z.object({
  entityType: z.enum(['CONTACT', 'COMPANY', 'LEAD']),
  entityId: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER),
});

export function crmApiRouter(deps: CrmApiDeps): Router {
  const router = Router();

  router.get('/crm/open-items', async (req: Request, res: Response) => {
    const parsed = openItemsQuery.safeParse(req.query);
    if (!parsed.success) {
      throw badRequest('invalid query parameters', {
        issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      });
    }
    const { entityType, entityId } = parsed.data;
    const items = await deps.openItems.read(frameUserAuth(req, res), entityType, entityId);
    const body: OpenItemsResponse = { entityType, entityId, ...items };
    // Open items change while the agent works in Bitrix24: the browser must not keep them.
    res.setHeader('Cache-Control', 'private, no-store');
    res.json(body);
  });

  return router;
}
