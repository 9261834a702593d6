/**
 * event.bind/get/unbind and placement.bind/get/unbind — application context only.
 * https://apidocs.bitrix24.com/api-reference/events/event-bind.html, …/events/event-get.html, …/events/event-unbind.html,
 * https://apidocs.bitrix24.com/api-reference/widgets/placement-bind.html, …/placement-get.html, …/placement-unbind.html
 */
import { RestError, accessDenied, argumentError } from '../errors.js';
import { isRecord, pick, pickInt, pickString, type Params } from '../params.js';
import type { Portal } from '../state.js';
import { ok, type MethodTable } from './types.js';

/** Events an app may bind in this emulator (the real list comes from `events`). */
export const KNOWN_EVENTS = new Set([
  'ONAPPINSTALL', 'ONAPPUNINSTALL', 'ONAPPUPDATE', 'ONEXTERNALCALLSTART', 'ONEXTERNALCALLBACKSTART',
  'ONCRMCONTACTADD', 'ONCRMCONTACTUPDATE', 'ONCRMCONTACTDELETE', 'ONCRMLEADADD', 'ONCRMLEADUPDATE',
  'ONCRMLEADDELETE', 'ONCRMCOMPANYADD', 'ONCRMCOMPANYUPDATE', 'ONCRMCOMPANYDELETE', 'ONUSERADD',
  'ONVOXIMPLANTCALLINIT', 'ONVOXIMPLANTCALLSTART', 'ONVOXIMPLANTCALLEND',
]);

export const KNOWN_PLACEMENTS = new Set([
  'CALL_CARD', 'TELEPHONY_ANALYTICS_MENU', 'LEFT_MENU', 'PAGE_BACKGROUND_WORKER',
  'CRM_CONTACT_DETAIL_TAB', 'CRM_LEAD_DETAIL_TAB', 'CRM_COMPANY_DETAIL_TAB', 'CRM_DEAL_DETAIL_TAB',
  'CRM_CONTACT_DETAIL_ACTIVITY', 'CRM_LEAD_DETAIL_ACTIVITY', 'CRM_COMPANY_DETAIL_ACTIVITY',
]);

/** "Argument 'PLACEMENT' is null or empty" with the `argument` field (placement-bind.html, Error Handling). */
const missingArgument = (name: string): RestError =>
  new RestError('ERROR_ARGUMENT', `Argument '${name}' is null or empty`, 400, { argument: name });

function isAdmin(portal: Portal, userId: number): boolean {
  return portal.users.get(userId)?.ADMIN === true;
}

/** What placement.bind and placement.unbind both check first: an admin calls, PLACEMENT (any case) is given. */
function placementArguments(portal: Portal, params: Params, userId: number): { placement: string; handler: string | undefined } {
  if (!isAdmin(portal, userId)) throw accessDenied('Access denied! Application administrator permissions required');
  const placement = pickString(params, 'PLACEMENT', 'placement')?.toUpperCase();
  const handler = pickString(params, 'HANDLER', 'handler');
  if (!placement) throw missingArgument('PLACEMENT');
  return { placement, handler };
}

function validHandler(handler: string | undefined): handler is string {
  if (!handler) return false;
  try {
    const u = new URL(handler);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

export const bindingMethods: MethodTable = {
  'event.bind': {
    appContextOnly: true,
    run: ({ portal, params, auth }) => {
      const event = pickString(params, 'event', 'EVENT')?.toUpperCase();
      const handler = pickString(params, 'handler', 'HANDLER');
      const eventType = (pickString(params, 'event_type', 'EVENT_TYPE') ?? 'online').toLowerCase();
      if (!event || !KNOWN_EVENTS.has(event)) throw new RestError('ERROR_EVENT_NOT_FOUND', 'Event not found', 400);
      if (eventType === 'offline') {
        if (!isAdmin(portal, auth.userId)) throw accessDenied('Access denied! Admin permissions required');
      } else if (!validHandler(handler)) {
        throw new RestError('ERROR_EVENT_HANDLER_URL', 'Handler URL is not valid', 400);
      }
      const authTypeParam = pickInt(params, 'auth_type', 'AUTH_TYPE') ?? 0;
      if (authTypeParam !== 0 && authTypeParam !== auth.userId && !isAdmin(portal, auth.userId)) throw accessDenied();
      const handlerUrl = handler ?? '';
      const exists = portal.events.some((b) => b.event === event && b.handler === handlerUrl && b.authType === authTypeParam);
      if (exists) throw new RestError('ERROR_CORE', 'Handler already binded', 400);
      portal.events.push({ event, handler: handlerUrl, authType: authTypeParam, offline: eventType === 'offline', id: portal.nextEventId++ });
      return ok(true);
    },
  },
  'event.get': {
    appContextOnly: true,
    run: ({ portal }) =>
      ok(portal.events.map((b) => ({ event: b.event, handler: b.handler, auth_type: String(b.authType), offline: b.offline ? 1 : 0 }))),
  },
  'event.unbind': {
    appContextOnly: true,
    run: ({ portal, params }) => {
      const event = pickString(params, 'event', 'EVENT')?.toUpperCase();
      const handler = pickString(params, 'handler', 'HANDLER');
      const authType = pickInt(params, 'auth_type', 'AUTH_TYPE');
      if (!event) throw argumentError('Event name is required');
      const before = portal.events.length;
      portal.events = portal.events.filter(
        (b) => !(b.event === event && (handler === undefined || b.handler === handler) && (authType === undefined || b.authType === authType)),
      );
      return ok({ count: before - portal.events.length });
    },
  },
  'placement.bind': {
    appContextOnly: true,
    run: ({ portal, params, auth }) => {
      const { placement, handler } = placementArguments(portal, params, auth.userId);
      if (!KNOWN_PLACEMENTS.has(placement)) throw new RestError('ERROR_PLACEMENT_NOT_FOUND', 'Placement not found', 400);
      if (!validHandler(handler)) throw missingArgument('HANDLER');
      const userId = pickInt(params, 'USER_ID') ?? 0;
      const exists = portal.placements.some((p) => p.placement === placement && p.handler === handler && p.userId === userId);
      // ERROR_PLACEMENT_MAX_COUNT is documented for PAGE_BACKGROUND_WORKER only; other duplicates are refused too.
      if (exists) {
        if (placement === 'PAGE_BACKGROUND_WORKER') throw new RestError('ERROR_PLACEMENT_MAX_COUNT', 'Placement max count exceeded', 400);
        throw new RestError('ERROR_CORE', 'Unable to set placement handler: Handler already binded', 400);
      }
      const options = pick(params, 'OPTIONS');
      const langAll = pick(params, 'LANG_ALL');
      portal.placements.push({
        placement,
        handler,
        title: pickString(params, 'TITLE') ?? '',
        description: pickString(params, 'DESCRIPTION') ?? '',
        userId,
        options: isRecord(options) ? options : {},
        langAll: isRecord(langAll) ? langAll : {},
      });
      return ok(true);
    },
  },
  'placement.get': {
    appContextOnly: true,
    run: ({ portal }) =>
      ok(
        portal.placements.map((p) => ({
          placement: p.placement, userId: p.userId, handler: p.handler, options: p.options, title: p.title,
          description: p.description, langAll: p.langAll,
        })),
      ),
  },
  'placement.unbind': {
    appContextOnly: true,
    run: ({ portal, params, auth }) => {
      const { placement, handler } = placementArguments(portal, params, auth.userId);
      const before = portal.placements.length;
      portal.placements = portal.placements.filter((p) => !(p.placement === placement && (handler === undefined || p.handler === handler)));
      return ok({ count: before - portal.placements.length });
    },
  },
};
