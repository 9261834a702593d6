import type { Logger } from '../log.js';
import { AppError } from '../errors.js';
import type { BatchCommand, BitrixClient } from '../bitrix/types.js';
import { bindEvent, bindPlacement, getEvents, getPlacements, readEvents, readPlacements, type PlacementBinding } from '../bitrix/events.js';
import { addExternalLine, getExternalLines, readExternalLines } from '../bitrix/telephony.js';
import { ratePlanFromAppInfo, type RatePlan } from '../bitrix/rate-plan.js';

/**
 * ONCRM…UPDATE / …DELETE keep contact sync's phonebook entries true when a synced record changes or goes (b24restdocs:
 * api-reference/crm/{contacts,leads,companies}/events/; scope crm). Bound whatever the settings: a portal turning sync on
 * later needs no re-install, and an event for a record never synced costs one ignored POST.
 */
export const BOUND_EVENTS = [
  'ONEXTERNALCALLSTART', 'ONEXTERNALCALLBACKSTART', 'ONAPPUNINSTALL',
  'ONCRMCONTACTUPDATE', 'ONCRMCONTACTDELETE', 'ONCRMLEADUPDATE', 'ONCRMLEADDELETE', 'ONCRMCOMPANYUPDATE', 'ONCRMCOMPANYDELETE',
] as const;
export const CRM_TAB_PLACEMENTS = ['CRM_CONTACT_DETAIL_TAB', 'CRM_LEAD_DETAIL_TAB', 'CRM_COMPANY_DETAIL_TAB', 'CRM_DEAL_DETAIL_TAB'] as const;
export const LINE_NAME = 'Yeastar PBX';

const TAB_TITLE = { en: 'Calls', ru: 'Звонки', zh: '通话' };
const CARD_TITLE = { en: 'Yeastar PBX', ru: 'АТС Yeastar', zh: 'Yeastar 电话系统' };

function langAll(t: Record<'en' | 'ru' | 'zh', string>): PlacementBinding['langAll'] {
  return { en: { TITLE: t.en }, ru: { TITLE: t.ru }, zh: { TITLE: t.zh } };
}

export function wantedPlacements(publicUrl: string): PlacementBinding[] {
  return [
    ...CRM_TAB_PLACEMENTS.map((placement) => ({
      placement, handler: `${publicUrl}/placement/crm-tab`, title: TAB_TITLE.en, langAll: langAll(TAB_TITLE),
    })),
    { placement: 'CALL_CARD', handler: `${publicUrl}/placement/call-card`, title: CARD_TITLE.en, langAll: langAll(CARD_TITLE) },
  ];
}

/** Answers to a repeated bind that mean "it is there already": success for an idempotent install. */
const ALREADY = /already|exists|binded/i;

export interface SetupResult {
  ratePlan: RatePlan;
  /** The `app.info` answer read with the bindings (undefined when it failed): rate plan and country come from it. */
  appInfo: unknown;
  bound: string[];
  alreadyThere: string[];
}

/**
 * Binds the events, placements and the external line the app needs, idempotently: one batch reads what exists
 * (event.get, placement.get, externalLine.get, app.info), a second binds only what is missing. Handlers are bound
 * again on every install because Bitrix24 drops them on an app update (event-bind.md).
 */
export async function ensureAppBindings(args: {
  client: BitrixClient; publicUrl: string; lineNumber: string; log: Logger;
}): Promise<SetupResult> {
  const { client, publicUrl, lineNumber, log } = args;
  const eventHandler = `${publicUrl}/b24/events`;
  const reads = [
    { key: 'events', ...getEvents() },
    { key: 'placements', ...getPlacements() },
    { key: 'lines', ...getExternalLines() },
    { key: 'app', method: 'app.info', params: {} },
  ];
  const existing = await client.batch(reads, false);
  const readFailed = Object.entries(existing.errors).filter(([key]) => key !== 'app');
  if (readFailed.length > 0) {
    throw new AppError('INSTALL_SETUP_FAILED', `Bitrix24 refused to list the app's bindings: ${readFailed.map(([k, e]) => `${k}: ${e.error} ${e.description}`).join('; ')}`, 502);
  }
  const events = readEvents(existing.results.events);
  const placements = readPlacements(existing.results.placements);
  const lines = readExternalLines(existing.results.lines);

  const commands: BatchCommand[] = [];
  const alreadyThere: string[] = [];
  for (const event of BOUND_EVENTS) {
    if (events.some((e) => e.event === event && e.handler === eventHandler)) alreadyThere.push(event);
    else commands.push({ key: `event_${event}`, ...bindEvent({ event, handler: eventHandler }) });
  }
  for (const p of wantedPlacements(publicUrl)) {
    if (placements.some((x) => x.placement === p.placement && x.handler === p.handler)) alreadyThere.push(p.placement);
    else commands.push({ key: `placement_${p.placement}`, ...bindPlacement(p) });
  }
  if (lines.some((l) => l.number === lineNumber)) alreadyThere.push(`line ${lineNumber}`);
  else commands.push({ key: 'line', ...addExternalLine({ number: lineNumber, name: LINE_NAME, crmAutoCreate: false }) });

  const bound: string[] = [];
  if (commands.length > 0) {
    const answer = await client.batch(commands, false);
    const failures: string[] = [];
    for (const c of commands) {
      const err = answer.errors[c.key];
      if (!err) bound.push(c.key);
      else if (ALREADY.test(err.description) || ALREADY.test(err.error)) alreadyThere.push(c.key);
      else failures.push(`${c.key}: ${err.error} ${err.description}`.trim());
    }
    if (failures.length > 0) {
      throw new AppError('INSTALL_SETUP_FAILED', `Bitrix24 refused part of the setup: ${failures.join('; ')}`, 502);
    }
  }
  const ratePlan = ratePlanFromAppInfo(existing.results.app);
  log.info({ bound, alreadyThere, ratePlan }, 'app bindings in place');
  return { ratePlan, appInfo: existing.results.app, bound, alreadyThere };
}
