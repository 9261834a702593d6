import { timingSafeEqual } from 'node:crypto';
import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import type { CrmEntityType, CrmRef } from '../store/records.js';
import type { ExternalCallbackStart, ExternalCallStart, TelephonyEventHandlers } from '../calls/types.js';
import type { CrmChangeEvents } from '../contacts/types.js';
import { badRequest, unauthorized } from '../errors.js';
import { readCrmRef } from '../bitrix/telephony.js';
import { locals } from './context.js';
import { bytes, declaredWithin } from './middleware/body.js';
import { readInstallEventAuth } from '../portals/install-request.js';
import { admitGrant, installPortal, type InstallDeps } from '../portals/install.js';
import { uninstallPortal, type UninstallDeps } from '../portals/uninstall.js';

export interface EventsDeps {
  store: Store;
  telephonyEvents: TelephonyEventHandlers;
  /** contacts/: ONCRM{CONTACT,LEAD,COMPANY}{UPDATE,DELETE} keep synced phonebook entries true. */
  crmEvents?: CrmChangeEvents;
  install: InstallDeps;
  uninstall: UninstallDeps;
  defaultServerEndpoint: string;
  log: Logger;
  /** Work started after the 200 (tests await it). */
  track?: (work: Promise<unknown>) => void;
}

/** Constant-time comparison; the length check first because timingSafeEqual throws on unequal lengths. */
export function sameToken(given: string, stored: string): boolean {
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(stored, 'utf8');
  if (a.length !== b.length || b.length === 0) return false;
  return timingSafeEqual(a, b);
}

const eventBody = z.object({
  event: z.string().trim().min(1).transform((s) => s.toUpperCase()),
  data: z.record(z.string(), z.unknown()).optional(),
  auth: z.object({
    member_id: z.string().min(1).max(128),
    // Checked below: a missing token is an unauthenticated event (401 and a warning), not a malformed one.
    application_token: z.string().max(256).optional(),
  }).loose(),
});

const str = (v: unknown) => (typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : '');
const readCrm = (data: Record<string, unknown>): CrmRef | null => readCrmRef(data.CRM_ENTITY_TYPE, data.CRM_ENTITY_ID);

/** ONEXTERNALCALLSTART `data[...]` (on-external-call-start.md): all values arrive as strings. */
export function readExternalCallStart(data: Record<string, unknown>): ExternalCallStart {
  const b24CallId = str(data.CALL_ID);
  const phoneNumber = str(data.PHONE_NUMBER_INTERNATIONAL) || str(data.PHONE_NUMBER);
  const userId = Number(str(data.USER_ID));
  if (!b24CallId || !phoneNumber || !Number.isInteger(userId) || userId <= 0) {
    throw badRequest('ONEXTERNALCALLSTART needs data[CALL_ID], data[PHONE_NUMBER] and data[USER_ID]');
  }
  return {
    b24CallId,
    phoneNumber,
    userId,
    lineNumber: str(data.LINE_NUMBER),
    crm: readCrm(data),
    callListId: Number(str(data.CALL_LIST_ID)) || 0,
    isMobile: str(data.IS_MOBILE) === '1',
  };
}

const CRM_CHANGE = /^ONCRM(CONTACT|LEAD|COMPANY)(UPDATE|DELETE)$/;

/**
 * ONCRM<TYPE>UPDATE / ONCRM<TYPE>DELETE: `data[FIELDS][ID]` names the record (b24restdocs: api-reference/crm/contacts/
 * events/on-crm-contact-update.md and its lead/company siblings; reference bitrix24-api.md §events shows the shape).
 * Null when the event is not one of these.
 */
export function readCrmChange(event: string, data: Record<string, unknown>): { crm: CrmRef; change: 'update' | 'delete' } | null {
  const m = CRM_CHANGE.exec(event);
  if (!m) return null;
  const fields = data.FIELDS;
  const id = Number(str(typeof fields === 'object' && fields !== null ? (fields as Record<string, unknown>).ID : undefined));
  if (!Number.isInteger(id) || id <= 0) throw badRequest(`${event} needs data[FIELDS][ID]`);
  return { crm: { entityType: m[1] as CrmEntityType, entityId: id }, change: m[2] === 'DELETE' ? 'delete' : 'update' };
}

/** ONEXTERNALCALLBACKSTART `data[...]` (on-external-call-back-start.md): no CALL_ID. */
export function readExternalCallbackStart(data: Record<string, unknown>): ExternalCallbackStart {
  const phoneNumber = str(data.PHONE_NUMBER);
  if (!phoneNumber) throw badRequest('ONEXTERNALCALLBACKSTART needs data[PHONE_NUMBER]');
  return { phoneNumber, text: str(data.TEXT), lineNumber: str(data.LINE_NUMBER), crm: readCrm(data) };
}

/**
 * POST /b24/events: Bitrix24 event delivery (form-encoded, nested `auth[...]`, `data[...]`). Verified by the
 * application_token stored at install (safe-event-handlers.md); answered 200 at once — Bitrix24 does not retry
 * online events and waits on us — and worked after.
 */
export function eventsRouter(deps: EventsDeps): express.Router {
  const router = express.Router();
  const limit = bytes('64kb');
  // The declared length is checked first: body-parser would read a too-large body to its end before refusing it.
  const parse = [declaredWithin(limit), express.urlencoded({ extended: true, limit, parameterLimit: 500 })];
  const track = deps.track ?? (() => undefined);

  router.post('/b24/events', parse, async (req: Request, res: Response) => {
    const log = locals(res).log;
    const parsed = eventBody.safeParse(req.body);
    if (!parsed.success) throw badRequest('not a Bitrix24 event (needs event, auth[member_id], auth[application_token])');
    const { event, auth } = parsed.data;
    const data = parsed.data.data ?? {};
    const memberId = auth.member_id;
    const portal = deps.store.portals.get(memberId);
    // Every Bitrix24 event carries the application token (safe-event-handlers.md): one without it did not come from
    // Bitrix24. Refused like a wrong token, and the portal it names is told to the operator.
    if (!auth.application_token) {
      log.warn({ portal: memberId, event, known: Boolean(portal) }, 'event refused: no auth[application_token]');
      throw unauthorized('the event carries no auth[application_token]');
    }
    const applicationToken = auth.application_token;

    if (event === 'ONAPPINSTALL') {
      // An install grant like the installer POST: admitted only by the OAuth server's word and an admin's token
      // (install.ts admitGrant), for a known portal as for a new one. The application_token it carries proves nothing
      // (it is the one value every event of the portal shows); a re-install brings a new one, stored once admitted.
      const grant = readInstallEventAuth(req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>).auth : undefined, deps.defaultServerEndpoint);
      // Checked before the 200 (app.info on the OAuth server, one batch on the portal): a refused install is answered
      // 401/403 and stores nothing.
      const admitted = await admitGrant(deps.install, grant);
      res.status(200).json({ ok: true });
      track(installPortal(deps.install, admitted).catch((err: unknown) => log.error({ portal: memberId, err }, 'install from ONAPPINSTALL failed')));
      return;
    }

    if (!portal || !sameToken(applicationToken, portal.applicationToken)) {
      log.warn({ portal: memberId, event, known: Boolean(portal) }, 'event refused: unknown portal or wrong application_token');
      throw unauthorized('unknown portal or wrong application_token');
    }

    if (event === 'ONAPPUNINSTALL') {
      const clean = str(data.CLEAN) === '1';
      res.status(200).json({ ok: true });
      track(uninstallPortal(deps.uninstall, memberId, clean).catch((err: unknown) => log.error({ portal: memberId, err }, 'uninstall failed')));
      return;
    }
    if (portal.uninstalledAt) {
      log.warn({ portal: memberId, event }, 'event for an uninstalled portal ignored');
      throw unauthorized('the app is not installed on this portal');
    }
    if (event === 'ONEXTERNALCALLSTART') {
      const call = readExternalCallStart(data);
      res.status(200).json({ ok: true });
      track(deps.telephonyEvents.externalCallStart(memberId, call)
        .catch((err: unknown) => log.error({ portal: memberId, b24CallId: call.b24CallId, err }, 'click-to-call failed')));
      return;
    }
    if (event === 'ONEXTERNALCALLBACKSTART') {
      const callback = readExternalCallbackStart(data);
      res.status(200).json({ ok: true });
      track(deps.telephonyEvents.externalCallbackStart(memberId, callback)
        .catch((err: unknown) => log.error({ portal: memberId, err }, 'callback start failed')));
      return;
    }
    const crmChange = readCrmChange(event, data);
    if (crmChange && deps.crmEvents) {
      const { crm, change } = crmChange;
      res.status(200).json({ ok: true });
      track(deps.crmEvents.crmChanged(memberId, crm, change)
        .catch((err: unknown) => log.error({ portal: memberId, entityType: crm.entityType, entityId: crm.entityId, err }, 'CRM change not applied to the phonebook')));
      return;
    }
    log.info({ portal: memberId, event }, 'event not handled');
    res.status(200).json({ ok: true, ignored: event });
  });
  return router;
}
