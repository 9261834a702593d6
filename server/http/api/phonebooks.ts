/**
 * PBX phonebooks for contact sync and the sync's results: `GET|POST /phonebooks`, `GET /contact-sync` (mounted under
 * /api after frame auth). Documented in docs/api-settings.md.
 */
import express, { type Router } from 'express';
import { z } from 'zod';
import { askPbx, connectedAdapter, parseBody, portalOf, type ContactsApiDeps } from './route-support.js';
import { syncReasonKind } from '../../contacts/sync.js';
import type { PbxPhonebook } from '../../pbx/adapter.js';
import { locals } from '../context.js';
import type { ContactSyncRow, PhonebookRow } from '../../../contract/api-shapes.js';
import { bytes, jsonBody } from '../middleware/body.js';

const createSchema = z.strictObject({ name: z.string().trim().min(1).max(64) });

function row(book: PbxPhonebook, selectedId: string | null): PhonebookRow {
  const selected = book.id === selectedId;
  // Only an empty phonebook may be chosen (it becomes ours); the one already chosen stays selectable.
  return { id: book.id, name: book.name, contactCount: book.contactCount, selectable: selected || book.contactCount === 0, selected };
}

export function phonebooksRouter(deps: ContactsApiDeps): Router {
  const router = express.Router();

  router.get('/phonebooks', async (_req, res) => {
    const portal = portalOf(res);
    const adapter = connectedAdapter(deps, portal);
    const books = await askPbx(() => adapter.listPhonebooks());
    const selectedId = deps.store.settings.get(portal).contactSync.phonebookId;
    res.json(books.map((b) => row(b, selectedId)));
  });

  /** Creates an empty phonebook to choose for contact sync (choosing it is a PUT /settings). */
  router.post('/phonebooks', deps.requireAdmin, jsonBody(bytes('4kb')), async (req, res) => {
    const portal = portalOf(res);
    const { name } = parseBody(createSchema, req.body);
    const adapter = connectedAdapter(deps, portal);
    const book = await askPbx(() => adapter.createPhonebook(name));
    locals(res).log.info({ portal, phonebookId: book.id }, 'PBX phonebook created');
    res.status(201).json(row(book, deps.store.settings.get(portal).contactSync.phonebookId));
  });

  router.get('/contact-sync', (_req, res) => {
    const portal = portalOf(res);
    const rows: ContactSyncRow[] = deps.store.contactSync.list(portal)
      .sort((a, b) => b.updatedAt - a.updatedAt)
      .map((e) => ({
        entityType: e.entityType, entityId: e.entityId, state: e.state, reason: e.reason ?? null, reasonKind: syncReasonKind(e.state, e.reason), pbxContactId: e.pbxContactId ?? null, updatedAt: e.updatedAt,
      }));
    res.json(rows);
  });

  return router;
}
