/**
 * `GET|PUT /settings` and `POST /disconnect` (mounted under /api after frame auth). Documented in docs/api-settings.md.
 */
import express, { type Router } from 'express';
import { AppError, badRequest } from '../../errors.js';
import { assertPbxAddressAllowed } from '../../pbx/address-guard.js';
import { askPbx, connectedAdapter, portalChanges, parseBody, portalOf, settingsChanged, type ContactsApiDeps } from './route-support.js';
import { mergeSettings, settingsUpdateSchema, settingsView } from '../../portals/settings.js';
import type { PortalSettings } from '../../store/records.js';
import { locals } from '../context.js';
import type { SettingsResponse } from '../../../contract/api-shapes.js';
import { bytes, jsonBody } from '../middleware/body.js';

/**
 * A phonebook becomes ours when chosen for contact sync, so it must be empty then: we would otherwise update or
 * mix with contacts somebody else maintains (design §3.3).
 */
async function assertPhonebookChoosable(deps: ContactsApiDeps, portal: string, phonebookId: string): Promise<void> {
  const books = await askPbx(() => connectedAdapter(deps, portal).listPhonebooks());
  const book = books.find((b) => b.id === phonebookId);
  if (!book) throw badRequest(`the PBX has no phonebook with id ${phonebookId}`, { field: 'contactSync.phonebookId' });
  if (book.contactCount > 0) {
    throw new AppError('PHONEBOOK_NOT_EMPTY',
      `phonebook "${book.name}" already has ${book.contactCount} contact(s); choose an empty phonebook or create a new one`,
      409, { phonebookId, contactCount: book.contactCount });
  }
}

/** The fields that decide whether the PBX accepts us: a save that changes none of them needs no new test. */
function connectionChanged(before: PortalSettings['pbx'], after: PortalSettings['pbx']): boolean {
  if (!after) return false;
  return !before || before.baseUrl !== after.baseUrl || before.clientId !== after.clientId || before.clientSecret !== after.clientSecret;
}

/**
 * Save tests the connection first (issue 12 point 3): settings the PBX refuses are not saved, and the admin gets the
 * PBX's reason as a 422 (the request was understood; the PBX said no) instead of "Saved." beside a red alert.
 */
async function assertPbxAccepts(deps: ContactsApiDeps, pbx: NonNullable<PortalSettings['pbx']>): Promise<void> {
  const test = deps.testConnection;
  if (!test) return;
  try {
    await askPbx(() => test(pbx));
  } catch (error) {
    if (error instanceof AppError && error.code.startsWith('PBX_')) {
      throw new AppError(error.code, `not saved: ${error.message.replace(/^[A-Z0-9_]+: /, '')}`, error.code === 'PBX_ADDRESS_REFUSED' ? 400 : 422, { field: 'pbx' }, error);
    }
    throw error;
  }
}

export function settingsRouter(deps: ContactsApiDeps): Router {
  const router = express.Router();
  const serial = portalChanges(deps.store);
  const view = (portal: string, settings: PortalSettings): SettingsResponse => ({
    ...settingsView(settings, `${deps.config.publicUrl}${deps.webhookPath(portal)}`),
    portalCountry: deps.store.portals.get(portal)?.country ?? null,
  });

  router.get('/settings', (_req, res) => {
    const portal = portalOf(res);
    res.json(view(portal, deps.store.settings.get(portal)));
  });

  router.put('/settings', deps.requireAdmin, jsonBody(bytes('64kb')), async (req, res) => {
    const portal = portalOf(res);
    const update = parseBody(settingsUpdateSchema, req.body);
    const next = await serial(portal, async () => {
      const current = deps.store.settings.get(portal);
      const merged = mergeSettings(current, update);
      if (update.pbx) {
        const policy = { allowLoopback: deps.config.pbxAllowLoopback, allowPrivate: deps.config.pbxAllowPrivate, ...(deps.lookup ? { lookup: deps.lookup } : {}) };
        await askPbx(() => assertPbxAddressAllowed(update.pbx?.baseUrl ?? '', policy));
        if (merged.pbx && connectionChanged(current.pbx, merged.pbx)) await assertPbxAccepts(deps, merged.pbx);
        // A freshly connected PBX is on: after a Disconnect (or on first setup) the admin should not have to find
        // the switch. An explicit `enabled` in the same request still wins.
        if (current.pbx === null && update.enabled === undefined) merged.enabled = true;
      }
      const phonebookId = merged.contactSync.phonebookId;
      if (phonebookId && phonebookId !== current.contactSync.phonebookId) await assertPhonebookChoosable(deps, portal, phonebookId);
      await deps.store.settings.put(portal, merged);
      return merged;
    });
    locals(res).log.info({ portal, enabled: next.enabled, pbx: next.pbx !== null, contactSync: next.contactSync.enabled, autoCreate: next.autoCreate.enabled }, 'settings saved');
    await settingsChanged(deps, portal);
    res.json(view(portal, next));
  });

  /**
   * Forgets the PBX connection, bindings and the contact-sync mapping. The PBX phonebook and its contacts stay on the
   * PBX, no longer managed. Answers the (default) settings now in force.
   */
  router.post('/disconnect', deps.requireAdmin, async (_req, res) => {
    const portal = portalOf(res);
    await serial(portal, async () => {
      await deps.store.settings.clear(portal);
      await deps.store.bindings.replace(portal, []);
      await deps.store.contactSync.clear(portal);
    });
    deps.log.info({ portal }, 'portal disconnected from the PBX: settings, bindings and sync mapping cleared');
    await settingsChanged(deps, portal);
    res.json(view(portal, deps.store.settings.get(portal)));
  });

  return router;
}
