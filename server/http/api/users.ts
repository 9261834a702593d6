/**
 * Users ↔ extensions: `GET /users`, `GET /extensions`, `PUT /bindings`, `POST /bindings/auto` (mounted under /api
 * after frame auth). Documented in docs/api-settings.md.
 */
import express, { type Router } from 'express';
import { z } from 'zod';
import { listActiveEmployees } from '../../bitrix/users.js';
import { planAutoBind, planManualBind } from '../../contacts/binding.js';
import { askPbx, connectedAdapter, portalChanges, parseBody, portalOf, type ContactsApiDeps } from './route-support.js';
import type { Binding } from '../../store/records.js';
import { locals } from '../context.js';
import type { AutoBindResponse, BindingsResponse, ExtensionRow, UserRow } from '../../../contract/api-shapes.js';
import { bytes, jsonBody } from '../middleware/body.js';

const bindingsUpdateSchema = z.strictObject({
  bindings: z.array(z.strictObject({
    userId: z.number().int().positive(),
    extension: z.string().trim().min(1).max(32).nullable(),
  })).max(5_000),
});

const autoBindSchema = z.strictObject({
  /** Preview by default: nothing is saved unless the admin confirms with dryRun: false. */
  dryRun: z.boolean().default(true),
});

const bindingRows = (bindings: Binding[]): BindingsResponse['bindings'] =>
  bindings.map((b) => ({ userId: b.userId, extension: b.extension, source: b.source }));

export function usersRouter(deps: ContactsApiDeps): Router {
  const router = express.Router();
  const serial = portalChanges(deps.store);

  router.get('/users', async (_req, res) => {
    const portal = portalOf(res);
    const users = await listActiveEmployees(deps.clients.forPortal(portal));
    const byUser = new Map(deps.store.bindings.list(portal).map((b) => [b.userId, b]));
    const rows: UserRow[] = users.map((u) => {
      const binding = byUser.get(u.id);
      return {
        id: u.id, name: u.name, email: u.email, innerPhone: u.innerPhone, extension: binding?.extension ?? null, bindingSource: binding?.source ?? null,
        cardMode: deps.store.bindings.cardModeFor(portal, u.id),
      };
    });
    res.json(rows);
  });

  router.get('/extensions', async (_req, res) => {
    const portal = portalOf(res);
    const adapter = connectedAdapter(deps, portal);
    const extensions = await askPbx(() => adapter.listExtensions());
    const rows: ExtensionRow[] = extensions.map((e) => ({
      number: e.number, name: e.name, email: e.email, boundUserId: deps.store.bindings.userForExtension(portal, e.number) ?? null,
    }));
    res.json(rows);
  });

  router.put('/bindings', deps.requireAdmin, jsonBody(bytes('512kb')), async (req, res) => {
    const portal = portalOf(res);
    const { bindings: changes } = parseBody(bindingsUpdateSchema, req.body);
    const users = await listActiveEmployees(deps.clients.forPortal(portal));
    const adapter = deps.adapterFor(portal);
    // Extensions are checked against the PBX when it is connected; without a link the admin may still bind ahead.
    const extensions = adapter ? new Set((await askPbx(() => adapter.listExtensions())).map((e) => e.number)) : null;
    const plan = await serial(portal, async () => {
      const manual = planManualBind(deps.store.bindings.list(portal), changes, { names: new Map(users.map((u) => [u.id, u.name])), extensions });
      if (manual.applied) await deps.store.bindings.replace(portal, manual.bindings);
      return manual;
    });
    const log = locals(res).log;
    if (plan.applied) log.info({ portal, changes: changes.length, bindings: plan.bindings.length }, 'bindings saved');
    else log.info({ portal, changes: changes.length, conflicts: plan.conflicts.length }, 'bindings refused: conflicts');
    const answer: BindingsResponse = { bindings: bindingRows(plan.bindings), conflicts: plan.conflicts, applied: plan.applied };
    res.json(answer);
  });

  router.post('/bindings/auto', deps.requireAdmin, jsonBody(bytes('4kb')), async (req, res) => {
    const portal = portalOf(res);
    const { dryRun } = parseBody(autoBindSchema, req.body);
    const adapter = connectedAdapter(deps, portal);
    const [users, extensions] = await Promise.all([
      listActiveEmployees(deps.clients.forPortal(portal)),
      askPbx(() => adapter.listExtensions()),
    ]);
    const plan = await serial(portal, async () => {
      const auto = planAutoBind(users, extensions, deps.store.bindings.list(portal));
      if (!dryRun) await deps.store.bindings.replace(portal, auto.bindings);
      return auto;
    });
    if (!dryRun) locals(res).log.info({ portal, pairs: plan.pairs.length, conflicts: plan.conflicts.length }, 'auto-bind applied');
    const answer: AutoBindResponse = { pairs: plan.pairs, changes: plan.changes, conflicts: plan.conflicts, applied: !dryRun };
    res.json(answer);
  });

  return router;
}
