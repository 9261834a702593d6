/**
 * A CRM record's open items for the call card: its deals that are not closed and its activities that are not
 * completed, read in ONE Bitrix24 request (`batch`) and kept briefly, so an agent reopening the card during a call
 * spends nothing of the portal's 2 req/s.
 *
 * Read WITH THE AGENT'S OWN TOKEN (bitrix/as-user.ts), never the app's: Bitrix24's list methods answer only what
 * the token's user may read, so an agent sees the deals and activities Bitrix24 shows them and nothing more
 * (issue 10 point 7). The cache is therefore per user, not per record.
 *
 * Bitrix24 facts used (apidocs.bitrix24.com):
 * - crm.deal.list (api-reference/crm/deals/crm-deal-list.html): `filter` by CONTACT_ID (deprecated as a field, kept
 *   for compatibility, still filterable) or COMPANY_ID, `CLOSED: 'N'` for open deals; the fields are those of
 *   crm.deal.fields (TITLE, STAGE_ID, OPPORTUNITY, CURRENCY_ID).
 * - crm.activity.list (api-reference/crm/timeline/activities/activity-base/crm-activity-list.html): `filter` by
 *   OWNER_TYPE_ID (crm_enum_ownertype: 1 lead, 3 contact, 4 company) and OWNER_ID, `COMPLETED: 'N'`; DEADLINE is
 *   read-only, taken from START_TIME for calls and meetings and END_TIME for tasks (crm.activity.fields).
 * - batch (settings/how-to-call-rest-api/batch.html): a list command inside answers its first page (50 items).
 * - crm.contact.get / crm.company.get / crm.lead.get / crm.deal.get (api-reference/crm/contacts/crm-contact-get.html …):
 *   the record as the agent may read it (NAME, LAST_NAME, TITLE, ASSIGNED_BY_ID); "Access denied" when they may not.
 * - user.get (api-reference/user/user-get.html) with `ID`; inside the same batch the responsible's id is taken from the
 *   record's answer with `$result[record][ASSIGNED_BY_ID]` (settings/how-to-call-rest-api/batch.html).
 * - crm.status.list (api-reference/crm/status/crm-status-list.html, tutorials/crm/how-to-get-lists/
 *   how-to-get-stages-with-semantics.html): a portal's own stage names, `filter: {ENTITY_ID: 'DEAL_STAGE'}` for the
 *   general pipeline and `DEAL_STAGE_<n>` for pipeline n, whose stage ids carry the prefix `C<n>:`.
 */
import type { UserAuth, UserRest } from '../bitrix/as-user.js';
import { answerError } from '../bitrix/errors.js';
import type { BatchCommand, BatchResult } from '../bitrix/types.js';
import type { Logger } from '../log.js';

export type OpenItemsOwner = 'CONTACT' | 'COMPANY' | 'LEAD' | 'DEAL';

/** Who is calling, as the agent may see it: the call card's header. */
export interface RecordSummary {
  /** Contact: first and last name; company, lead, deal: the title (a lead without one: the person's name). */
  name: string;
  responsible: { id: number; name: string | null } | null;
}

export interface OpenDeal {
  id: number;
  title: string;
  stageId: string;
  /** The stage's name as the portal calls it; null when the portal's stage list could not be read. */
  stageName: string | null;
  /** OPPORTUNITY; null when the deal has no amount. */
  amount: number | null;
  currency: string | null;
}

export interface OpenActivity {
  id: number;
  subject: string;
  /** ISO 8601 as Bitrix24 gives it; null when the activity has none. */
  deadline: string | null;
  /** crm_enum_activitytype: 1 meeting, 2 call, 3 task, 4 e-mail, 6 provider (to-do and others). */
  typeId: number;
}

export interface OpenItems {
  /** Null when the agent may not read the record (or it is gone): the lists are then what they may read. */
  record: RecordSummary | null;
  deals: OpenDeal[];
  activities: OpenActivity[];
  /** A list filled its first page (50): there are more than shown. */
  moreDeals: boolean;
  moreActivities: boolean;
  /** When Bitrix24 was asked (epoch ms): the card can say how fresh the list is. */
  fetchedAt: number;
}

export interface OpenItemsReader {
  /** The record's open deals (not for a lead) and open activities as `user` may see them; cached briefly per user and record. */
  read(user: UserAuth, entityType: OpenItemsOwner, entityId: number): Promise<OpenItems>;
  /** Drops what is cached for a portal (uninstall, disconnect). */
  forget(portal: string): void;
}

export interface OpenItemsDeps {
  /** Bitrix24 REST acting as the agent (bitrix/as-user.ts restAsUser). */
  restAs(user: UserAuth): UserRest;
  /** Where a failed stage-name read is noted (it is swallowed: the card then shows stage ids). */
  log?: Logger;
  /** How long an answer is reused; default 30 s. */
  ttlMs?: number;
  /** At most this many records are kept (oldest dropped first); default 500. */
  maxEntries?: number;
  /** How long a portal's stage names are reused; default 10 min (admins rarely rename stages). */
  stageTtlMs?: number;
  now?: () => number;
}

/** crm_enum_ownertype (api-reference/crm/data-types.html). */
const OWNER_TYPE_ID: Record<OpenItemsOwner, number> = { LEAD: 1, DEAL: 2, CONTACT: 3, COMPANY: 4 };
const DEAL_FILTER_FIELD: Partial<Record<OpenItemsOwner, string>> = { CONTACT: 'CONTACT_ID', COMPANY: 'COMPANY_ID' };
const LIST_PAGE = 50;

const DEALS_KEY = 'deals';
const ACTIVITIES_KEY = 'activities';
const RECORD_KEY = 'record';
const RESPONSIBLE_KEY = 'responsible';
/** Commands whose failure does not fail the card: the header and stage names are shown when readable. */
const OPTIONAL_KEYS = new Set([RECORD_KEY, RESPONSIBLE_KEY]);
const STAGES_KEY_PREFIX = 'stages:';
const GENERAL_PIPELINE = 'DEAL_STAGE';

/** The stage list a deal stage belongs to: `C3:NEW` → DEAL_STAGE_3, `NEW` → DEAL_STAGE. */
export function stageListOf(stageId: string): string {
  const m = /^C(\d+):/.exec(stageId);
  return m ? `${GENERAL_PIPELINE}_${m[1]}` : GENERAL_PIPELINE;
}

/** One crm.status.list command per stage list (`DEAL_STAGE`, `DEAL_STAGE_3` …). */
export function stageNameCommands(stageLists: Iterable<string>): BatchCommand[] {
  return [...stageLists].map((list) => ({
    key: `${STAGES_KEY_PREFIX}${list}`,
    method: 'crm.status.list',
    params: { filter: { ENTITY_ID: list }, select: ['STATUS_ID', 'NAME'] },
  }));
}

/** Stage names per stage list from a batch answer; a list whose command failed is left out. */
export function readStageNames(answer: BatchResult): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const [key, value] of Object.entries(answer.results)) {
    if (!key.startsWith(STAGES_KEY_PREFIX)) continue;
    const names = new Map<string, string>();
    for (const row of rows(value)) {
      const statusId = text(row.STATUS_ID);
      if (statusId) names.set(statusId, text(row.NAME) || statusId);
    }
    out.set(key.slice(STAGES_KEY_PREFIX.length), names);
  }
  return out;
}

/** The batch commands for one record: the record and its responsible, deals (contacts and companies only) and activities. */
export function openItemsCommands(entityType: OpenItemsOwner, entityId: number): BatchCommand[] {
  const commands: BatchCommand[] = [
    { key: RECORD_KEY, method: `crm.${entityType.toLowerCase()}.get`, params: { id: entityId } },
    { key: RESPONSIBLE_KEY, method: 'user.get', params: { ID: `$result[${RECORD_KEY}][ASSIGNED_BY_ID]` } },
  ];
  const dealField = DEAL_FILTER_FIELD[entityType];
  if (dealField) {
    commands.push({
      key: DEALS_KEY,
      method: 'crm.deal.list',
      params: {
        filter: { [dealField]: entityId, CLOSED: 'N' },
        select: ['ID', 'TITLE', 'STAGE_ID', 'OPPORTUNITY', 'CURRENCY_ID'],
        order: { ID: 'DESC' },
      },
    });
  }
  commands.push({
    key: ACTIVITIES_KEY,
    method: 'crm.activity.list',
    params: {
      filter: { OWNER_TYPE_ID: OWNER_TYPE_ID[entityType], OWNER_ID: entityId, COMPLETED: 'N' },
      select: ['ID', 'SUBJECT', 'DEADLINE', 'TYPE_ID'],
      order: { DEADLINE: 'ASC' },
    },
  });
  return commands;
}

function rows(value: unknown): Record<string, unknown>[] {
  // A list inside batch answers an array; PHP turns an empty one into `[]` either way.
  const items = Array.isArray(value) ? value : typeof value === 'object' && value !== null ? Object.values(value) : [];
  return items.filter((item): item is Record<string, unknown> => typeof item === 'object' && item !== null);
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
}

function id(value: unknown): number | null {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  return Number.isInteger(n) && n > 0 ? n : null;
}

function amount(value: unknown): number | null {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  return Number.isFinite(n) ? n : null;
}

function toDeal(row: Record<string, unknown>): OpenDeal | null {
  const dealId = id(row.ID);
  if (dealId === null) return null;
  const currency = text(row.CURRENCY_ID);
  return { id: dealId, title: text(row.TITLE), stageId: text(row.STAGE_ID), stageName: null, amount: amount(row.OPPORTUNITY), currency: currency || null };
}

function toActivity(row: Record<string, unknown>): OpenActivity | null {
  const activityId = id(row.ID);
  if (activityId === null) return null;
  const deadline = text(row.DEADLINE);
  return { id: activityId, subject: text(row.SUBJECT), deadline: deadline || null, typeId: id(row.TYPE_ID) ?? 0 };
}

/** Soonest deadline first, activities without one last; ties by id. */
function byDeadline(a: OpenActivity, b: OpenActivity): number {
  const ta = a.deadline ? Date.parse(a.deadline) : NaN;
  const tb = b.deadline ? Date.parse(b.deadline) : NaN;
  const ka = Number.isNaN(ta) ? Number.POSITIVE_INFINITY : ta;
  const kb = Number.isNaN(tb) ? Number.POSITIVE_INFINITY : tb;
  return ka === kb ? a.id - b.id : ka - kb;
}

function joined(...parts: unknown[]): string {
  return parts.map(text).map((part) => part.trim()).filter(Boolean).join(' ');
}

/** The record's name and responsible from the batch answer; null when the record could not be read. */
export function readRecordSummary(answer: BatchResult, entityType: OpenItemsOwner): RecordSummary | null {
  const value = answer.results[RECORD_KEY];
  if (answer.errors[RECORD_KEY] || typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const row = value as Record<string, unknown>;
  const person = joined(row.NAME, row.LAST_NAME);
  const name = entityType === 'CONTACT' ? person : entityType === 'LEAD' ? text(row.TITLE).trim() || person : text(row.TITLE).trim();
  const responsibleId = id(row.ASSIGNED_BY_ID);
  const user = rows(answer.results[RESPONSIBLE_KEY])[0];
  const responsibleName = user && id(user.ID) === responsibleId ? joined(user.NAME, user.LAST_NAME) || null : null;
  return { name, responsible: responsibleId === null ? null : { id: responsibleId, name: responsibleName } };
}

/** Reads the batch answer; a failed list fails the whole read (the card offers a retry). */
export function readOpenItems(answer: BatchResult, fetchedAt: number, entityType: OpenItemsOwner = 'CONTACT'): OpenItems {
  const failed = Object.entries(answer.errors).find(([key]) => !key.startsWith(STAGES_KEY_PREFIX) && !OPTIONAL_KEYS.has(key))?.[1];
  // The sub-command's HTTP status is not reported: its code alone decides whether a retry may help.
  if (failed) throw answerError(failed.error, failed.description);
  const deals = rows(answer.results[DEALS_KEY]).map(toDeal).filter((d): d is OpenDeal => d !== null);
  const activities = rows(answer.results[ACTIVITIES_KEY]).map(toActivity).filter((a): a is OpenActivity => a !== null);
  return {
    record: readRecordSummary(answer, entityType),
    deals,
    activities: activities.sort(byDeadline),
    moreDeals: deals.length >= LIST_PAGE,
    moreActivities: activities.length >= LIST_PAGE,
    fetchedAt,
  };
}

interface Entry {
  at: number;
  value: Promise<OpenItems>;
}

export function createOpenItems(deps: OpenItemsDeps): OpenItemsReader {
  const ttlMs = deps.ttlMs ?? 30_000;
  const maxEntries = deps.maxEntries ?? 500;
  const stageTtlMs = deps.stageTtlMs ?? 10 * 60_000;
  const now = deps.now ?? Date.now;
  // Per portal, per stage list: names by stage id. A list that could not be read is kept empty for the TTL too, so a
  // portal refusing crm.status.list does not pay a request on every card.
  const stages = new Map<string, Map<string, { names: Map<string, string>; at: number }>>();
  // Insertion order is age order: a hit is re-inserted, so the first key is always the one to drop.
  const cache = new Map<string, Entry>();

  const keyOf = (user: UserAuth, entityType: OpenItemsOwner, entityId: number) =>
    `${user.portal.memberId}\u0000${user.userId}\u0000${entityType}\u0000${entityId}`;

  function stageNames(portal: string, list: string): Map<string, string> | undefined {
    const entry = stages.get(portal)?.get(list);
    return entry && now() - entry.at < stageTtlMs ? entry.names : undefined;
  }

  function rememberStages(portal: string, requested: BatchCommand[], answer: BatchResult | null): void {
    const read = answer ? readStageNames(answer) : new Map<string, Map<string, string>>();
    let lists = stages.get(portal);
    if (!lists) {
      lists = new Map();
      stages.set(portal, lists);
    }
    for (const command of requested) {
      const list = command.key.slice(STAGES_KEY_PREFIX.length);
      lists.set(list, { names: read.get(list) ?? new Map(), at: now() });
    }
  }

  async function fetchItems(user: UserAuth, entityType: OpenItemsOwner, entityId: number): Promise<OpenItems> {
    const at = now();
    const portal = user.portal.memberId;
    const client = deps.restAs(user);
    // The general pipeline's names ride along in the same request; only a deal in another pipeline costs a second one.
    const ride = DEAL_FILTER_FIELD[entityType] && !stageNames(portal, GENERAL_PIPELINE) ? stageNameCommands([GENERAL_PIPELINE]) : [];
    const answer = await client.batch([...openItemsCommands(entityType, entityId), ...ride]);
    const items = readOpenItems(answer, at, entityType);
    rememberStages(portal, ride, answer);
    const missing = new Set(items.deals.map((deal) => stageListOf(deal.stageId)).filter((list) => !stageNames(portal, list)));
    if (missing.size > 0) {
      const more = stageNameCommands([...missing].slice(0, 50));
      // Stage names are a nicety: without them the card shows stage ids, so a failure here never fails the read.
      const named = await client.batch(more).catch((err: unknown) => {
        deps.log?.warn({ portal, err, stageLists: [...missing] }, 'could not read deal stage names; the call card shows stage ids');
        return null;
      });
      rememberStages(portal, more, named);
    }
    return {
      ...items,
      deals: items.deals.map((deal) => ({ ...deal, stageName: stageNames(portal, stageListOf(deal.stageId))?.get(deal.stageId) ?? null })),
    };
  }

  return {
    read(user, entityType, entityId) {
      const key = keyOf(user, entityType, entityId);
      const hit = cache.get(key);
      if (hit && now() - hit.at < ttlMs) {
        cache.delete(key);
        cache.set(key, hit);
        return hit.value;
      }
      // The promise is cached, not the result: two cards opening at once make one request.
      const value = fetchItems(user, entityType, entityId);
      const entry: Entry = { at: now(), value };
      cache.delete(key);
      cache.set(key, entry);
      while (cache.size > maxEntries) {
        const oldest = cache.keys().next();
        if (oldest.done) break;
        cache.delete(oldest.value);
      }
      // A failure is not kept: the retry button must ask Bitrix24 again. The caller reports it (the route's error handler).
      value.catch(() => {
        if (cache.get(key) === entry) cache.delete(key);
      });
      return value;
    },
    forget(portal) {
      stages.delete(portal);
      const prefix = `${portal}\u0000`;
      for (const key of [...cache.keys()]) if (key.startsWith(prefix)) cache.delete(key);
    },
  };
}
