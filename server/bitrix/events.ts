/**
 * event.bind/get and placement.bind/get (https://apidocs.bitrix24.com/api-reference/events/event-bind.html,
 * https://apidocs.bitrix24.com/api-reference/widgets/placement-bind.html). Both need the app (OAuth) context.
 */
import type { RestCall } from './telephony.js';

export interface EventBinding {
  event: string;
  handler: string;
}

export interface PlacementBinding {
  placement: string;
  handler: string;
  title: string;
  /** LANG_ALL: per language {TITLE, DESCRIPTION}. */
  langAll?: Record<string, { TITLE: string; DESCRIPTION?: string }>;
}

export const bindEvent = (b: EventBinding): RestCall => ({ method: 'event.bind', params: { event: b.event, handler: b.handler } });
export const getEvents = (): RestCall => ({ method: 'event.get', params: {} });

export function bindPlacement(b: PlacementBinding): RestCall {
  const params: Record<string, unknown> = { PLACEMENT: b.placement, HANDLER: b.handler, TITLE: b.title };
  if (b.langAll) params.LANG_ALL = b.langAll;
  return { method: 'placement.bind', params };
}

export const getPlacements = (): RestCall => ({ method: 'placement.get', params: {} });

const str = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

/** event.get → [{event, handler, auth_type, offline}]; event names come back upper-case. */
export function readEvents(result: unknown): EventBinding[] {
  if (!Array.isArray(result)) return [];
  return result.flatMap((row: unknown) => {
    if (typeof row !== 'object' || row === null) return [];
    const r = row as Record<string, unknown>;
    return [{ event: str(r.event ?? r.EVENT).toUpperCase(), handler: str(r.handler ?? r.HANDLER) }];
  });
}

/** placement.get → [{placement, handler, title, …}]. */
export function readPlacements(result: unknown): { placement: string; handler: string }[] {
  if (!Array.isArray(result)) return [];
  return result.flatMap((row: unknown) => {
    if (typeof row !== 'object' || row === null) return [];
    const r = row as Record<string, unknown>;
    return [{ placement: str(r.placement ?? r.PLACEMENT).toUpperCase(), handler: str(r.handler ?? r.HANDLER) }];
  });
}
