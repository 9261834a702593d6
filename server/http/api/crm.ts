/**
 * CRM for the call card: who is calling with their open deals and activities, and "Create contact / lead" for an
 * unknown number. Documented in docs/api-calls.md. The frame-auth middleware runs before this router, so the portal is
 * the caller's own; the record id comes from the CALL_CARD placement (CRM_ENTITY_TYPE / CRM_ENTITY_ID). Everything
 * here reads and writes with the agent's own frame token, so Bitrix24's CRM rights decide (contacts/open-items.ts,
 * contacts/create-record.ts).
 */
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { createRecordAsAgent, type RecordCreatorDeps } from '../../contacts/create-record.js';
import type { OpenItemsReader } from '../../contacts/open-items.js';
import { badRequest } from '../../errors.js';
import { frameUserAuth } from '../frame-token.js';
import { bytes, jsonBody } from '../middleware/body.js';
import type { CreateRecordResponse, OpenItemsResponse } from '../../../contract/api-shapes.js';

export interface CrmApiDeps {
  openItems: OpenItemsReader;
}

const openItemsQuery = z.object({
  entityType: z.enum(['CONTACT', 'COMPANY', 'LEAD', 'DEAL']),
  entityId: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER),
});

const createRecordBody = z.object({
  entityType: z.enum(['CONTACT', 'LEAD']),
  // As the call card shows it: digits with an optional leading + (what a PBX presents), nothing else reaches Bitrix24.
  phone: z.string().trim().regex(/^\+?\d{3,20}$/, 'a phone number: digits, an optional leading +'),
});

function parsed<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw badRequest(what, { issues: result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) });
  }
  return result.data;
}

export function crmApiRouter(deps: CrmApiDeps): Router {
  const router = Router();

  router.get('/crm/open-items', async (req: Request, res: Response) => {
    const { entityType, entityId } = parsed(openItemsQuery, req.query, 'invalid query parameters');
    const items = await deps.openItems.read(frameUserAuth(req, res), entityType, entityId);
    const body: OpenItemsResponse = { entityType, entityId, ...items };
    // Open items change while the agent works in Bitrix24: the browser must not keep them.
    res.setHeader('Cache-Control', 'private, no-store');
    res.json(body);
  });

  return router;
}

/**
 * POST /crm/records: any employee, not only admins (mounted before the admin check, http/app.ts agentApiRouters):
 * the record is added with their own frame token, so Bitrix24 refuses it when their CRM rights do not allow adding.
 */
export function crmAgentRouter(creator: RecordCreatorDeps): Router {
  const router = Router();
  router.post('/crm/records', jsonBody(bytes('4kb')), async (req: Request, res: Response) => {
    const { entityType, phone } = parsed(createRecordBody, req.body, 'invalid record');
    const created = await createRecordAsAgent(creator, frameUserAuth(req, res), entityType, phone);
    const body: CreateRecordResponse = created;
    res.status(201).json(body);
  });
  return router;
}
