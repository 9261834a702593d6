/**
 * contacts/open-items.ts: a CRM record's open deals and activities for the call card, in one batch, cached 30 s.
 * The fake BitrixClient answers `batch` by evaluating each command's filter on its own deals and activities the way
 * Bitrix24 does (equality on the named fields), so a wrong filter shows up as wrong items, not just a wrong call.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { UserAuth, UserRest } from '../../../server/bitrix/as-user.js';
import type { BatchCommand, BatchResult, BitrixClient } from '../../../server/bitrix/types.js';
import { BitrixError } from '../../../server/bitrix/types.js';
import { createOpenItems, openItemsCommands, readOpenItems } from '../../../server/contacts/open-items.js';
import { portal } from '../calls/fakes.js';

type Row = Record<string, string>;

class FakePortalCrm implements BitrixClient {
  readonly batches: BatchCommand[][] = [];
  /** The token of each batch. */
  readonly askedBy: string[] = [];
  deals: Row[] = [];
  activities: Row[] = [];
  stages: Row[] = [
    { ENTITY_ID: 'DEAL_STAGE', STATUS_ID: 'NEW', NAME: 'New' },
    { ENTITY_ID: 'DEAL_STAGE', STATUS_ID: 'PREPARATION', NAME: 'Quote sent' },
    { ENTITY_ID: 'DEAL_STAGE_3', STATUS_ID: 'C3:NEGOTIATION', NAME: 'Negotiation' },
  ];
  /** Records by `CONTACT:7` for crm.<type>.get, and the portal's users for user.get. */
  records: Record<string, Row> = {};
  users: Row[] = [{ ID: '5', NAME: 'Alice', LAST_NAME: 'Smith' }];
  /** Methods whose commands fail inside the batch (the rest succeed). */
  failMethods = new Set<string>();
  failWith: { error: string; description: string } | null = null;
  throwError: Error | null = null;
  /** Throws for the batches it matches (a transport failure of just that request). */
  throwFor: ((commands: BatchCommand[]) => boolean) | null = null;
  constructor(readonly memberId: string) {}

  call<T>(): Promise<T> {
    return Promise.reject(new Error('open items must use batch'));
  }

  list<T>(): Promise<T[]> {
    return Promise.reject(new Error('open items must use batch'));
  }

  async batch(commands: BatchCommand[]): Promise<BatchResult> {
    this.batches.push(commands);
    await Promise.resolve();
    if (this.throwError) throw this.throwError;
    if (this.throwFor?.(commands)) throw new BitrixError('NETWORK_ERROR', 'socket hang up', 0, true);
    const out: BatchResult = { results: {}, errors: {} };
    for (const c of commands) {
      if (this.failWith || this.failMethods.has(c.method)) {
        out.errors[c.key] = this.failWith ?? { error: 'ACCESS_DENIED', description: 'Access denied.' };
        continue;
      }
      const get = /^crm\.(\w+)\.get$/.exec(c.method);
      if (get) {
        const row = this.records[`${(get[1] ?? '').toUpperCase()}:${String(c.params.id)}`];
        if (row) out.results[c.key] = row;
        else out.errors[c.key] = { error: 'NOT_FOUND', description: 'Not found' };
        continue;
      }
      if (c.method === 'user.get') {
        // Bitrix24 fills `$result[record][ASSIGNED_BY_ID]` from the earlier command's answer (batch.html).
        const ref = /^\$result\[(\w+)\]\[(\w+)\]$/.exec(String(c.params.ID));
        const earlier = ref ? out.results[ref[1] ?? ''] as Row | undefined : undefined;
        const id = ref ? earlier?.[ref[2] ?? ''] : String(c.params.ID);
        if (id === undefined) out.errors[c.key] = { error: 'ERROR_CORE', description: 'batch reference not resolved' };
        else out.results[c.key] = this.users.filter((u) => u.ID === id);
        continue;
      }
      const source = c.method === 'crm.deal.list' ? this.deals : c.method === 'crm.activity.list' ? this.activities : c.method === 'crm.status.list' ? this.stages : null;
      if (!source) throw new Error(`unexpected method ${c.method}`);
      const filter = c.params.filter as Record<string, unknown>;
      const select = c.params.select as string[];
      out.results[c.key] = source
        .filter((row) => Object.entries(filter).every(([k, v]) => row[k] === String(v)))
        .map((row) => Object.fromEntries(Object.entries(row).filter(([k]) => select.includes(k))));
    }
    return out;
  }
}

/** The agent whose frame token reads the items (issue 10 point 7: never the app's token). */
function as(memberId: string, userId = 11): UserAuth {
  return { portal: portal(memberId), userId, accessToken: `token-${memberId}-${userId}` };
}

/** Bitrix24 REST acting as a user: each fake portal notes which user's token asked. */
function restOf(...portals: FakePortalCrm[]): (user: UserAuth) => UserRest {
  return (user) => {
    const found = portals.find((p) => p.memberId === user.portal.memberId);
    if (!found) throw new Error(`no portal ${user.portal.memberId}`);
    return { batch: (commands) => { found.askedBy.push(user.accessToken); return found.batch(commands); } };
  };
}

function seeded(memberId = 'p1'): FakePortalCrm {
  const crm = new FakePortalCrm(memberId);
  crm.deals = [
    { ID: '1', TITLE: 'Old win', STAGE_ID: 'WON', OPPORTUNITY: '100.00', CURRENCY_ID: 'USD', CONTACT_ID: '7', COMPANY_ID: '0', CLOSED: 'Y' },
    { ID: '2', TITLE: 'Renewal 2027', STAGE_ID: 'PREPARATION', OPPORTUNITY: '1500.50', CURRENCY_ID: 'EUR', CONTACT_ID: '7', COMPANY_ID: '0', CLOSED: 'N' },
    { ID: '3', TITLE: 'Someone else', STAGE_ID: 'NEW', OPPORTUNITY: '9', CURRENCY_ID: 'USD', CONTACT_ID: '8', COMPANY_ID: '4', CLOSED: 'N' },
    { ID: '4', TITLE: 'No amount yet', STAGE_ID: 'NEW', OPPORTUNITY: '', CURRENCY_ID: '', CONTACT_ID: '0', COMPANY_ID: '4', CLOSED: 'N' },
  ];
  crm.activities = [
    { ID: '10', SUBJECT: 'Call back about the quote', DEADLINE: '2026-12-03T10:00:00+00:00', TYPE_ID: '2', OWNER_TYPE_ID: '3', OWNER_ID: '7', COMPLETED: 'N' },
    { ID: '11', SUBJECT: 'Send the contract', DEADLINE: '2026-12-01T09:00:00+00:00', TYPE_ID: '6', OWNER_TYPE_ID: '3', OWNER_ID: '7', COMPLETED: 'N' },
    { ID: '12', SUBJECT: 'Done already', DEADLINE: '2026-11-01T09:00:00+00:00', TYPE_ID: '2', OWNER_TYPE_ID: '3', OWNER_ID: '7', COMPLETED: 'Y' },
    { ID: '13', SUBJECT: 'No deadline', DEADLINE: '', TYPE_ID: '3', OWNER_TYPE_ID: '3', OWNER_ID: '7', COMPLETED: 'N' },
    { ID: '14', SUBJECT: 'Qualify the lead', DEADLINE: '2026-12-02T09:00:00+00:00', TYPE_ID: '6', OWNER_TYPE_ID: '1', OWNER_ID: '7', COMPLETED: 'N' },
    { ID: '15', SUBJECT: 'Company meeting', DEADLINE: '2026-12-05T09:00:00+00:00', TYPE_ID: '1', OWNER_TYPE_ID: '4', OWNER_ID: '4', COMPLETED: 'N' },
  ];
  return crm;
}

describe('open items of a CRM record', () => {
  it("a contact: its open deals and its open activities, soonest deadline first, in ONE batch", async () => {
    const crm = seeded();
    const reader = createOpenItems({ restAs: restOf(crm), now: () => 1_000 });
    const items = await reader.read(as('p1'), 'CONTACT', 7);
    expect(crm.batches).toHaveLength(1);
    expect(items.deals).toEqual([{ id: 2, title: 'Renewal 2027', stageId: 'PREPARATION', stageName: 'Quote sent', amount: 1500.5, currency: 'EUR' }]);
    expect(crm.batches[0]?.map((c) => c.method)).toEqual(['crm.contact.get', 'user.get', 'crm.deal.list', 'crm.activity.list', 'crm.status.list']);
    expect(items.activities.map((a) => a.id)).toEqual([11, 10, 13]);
    expect(items.activities[0]).toEqual({ id: 11, subject: 'Send the contract', deadline: '2026-12-01T09:00:00+00:00', typeId: 6 });
    expect(items.activities[2]?.deadline).toBeNull();
    expect(items).toMatchObject({ moreDeals: false, moreActivities: false, fetchedAt: 1_000 });
  });

  it('a company: deals by COMPANY_ID, activities of owner type 4; a deal without amount has null amount and currency', async () => {
    const crm = seeded();
    const items = await createOpenItems({ restAs: restOf(crm) }).read(as('p1'), 'COMPANY', 4);
    expect(items.deals.map((d) => d.id)).toEqual([3, 4]);
    expect(items.deals[1]).toEqual({ id: 4, title: 'No amount yet', stageId: 'NEW', stageName: 'New', amount: null, currency: null });
    expect(items.activities.map((a) => a.subject)).toEqual(['Company meeting']);
  });

  it('a lead: only its open activities (no deal request at all)', async () => {
    const crm = seeded();
    const items = await createOpenItems({ restAs: restOf(crm) }).read(as('p1'), 'LEAD', 7);
    expect(crm.batches[0]?.map((c) => c.method)).toEqual(['crm.lead.get', 'user.get', 'crm.activity.list']);
    expect(items.deals).toEqual([]);
    expect(items.activities.map((a) => a.subject)).toEqual(['Qualify the lead']);
  });

  it("leads with who is calling: the contact's name and the responsible employee's, read in the same batch", async () => {
    const crm = seeded();
    crm.records['CONTACT:7'] = { ID: '7', NAME: 'John', LAST_NAME: 'Doe', ASSIGNED_BY_ID: '5' };
    crm.records['COMPANY:4'] = { ID: '4', TITLE: 'Acme Ltd', ASSIGNED_BY_ID: '99' };
    crm.records['LEAD:7'] = { ID: '7', TITLE: '', NAME: 'Jane', LAST_NAME: 'Roe', ASSIGNED_BY_ID: '' };
    const reader = createOpenItems({ restAs: restOf(crm) });
    expect((await reader.read(as('p1'), 'CONTACT', 7)).record).toEqual({ name: 'John Doe', responsible: { id: 5, name: 'Alice Smith' } });
    expect(crm.batches).toHaveLength(1);
    // A responsible the agent cannot read is named by nobody, never "user 99".
    expect((await reader.read(as('p1'), 'COMPANY', 4)).record).toEqual({ name: 'Acme Ltd', responsible: { id: 99, name: null } });
    expect((await reader.read(as('p1'), 'LEAD', 7)).record).toEqual({ name: 'Jane Roe', responsible: null });
  });

  it('a record the agent may not read leaves the header empty (null), and the lists still come', async () => {
    const crm = seeded();
    const items = await createOpenItems({ restAs: restOf(crm) }).read(as('p1'), 'CONTACT', 7);
    expect(items.record).toBeNull();
    expect(items.deals.map((d) => d.id)).toEqual([2]);
  });

  it('asks with the documented filters and selects', () => {
    expect(openItemsCommands('CONTACT', 7)).toEqual([
      { key: 'record', method: 'crm.contact.get', params: { id: 7 } },
      { key: 'responsible', method: 'user.get', params: { ID: '$result[record][ASSIGNED_BY_ID]' } },
      { key: 'deals', method: 'crm.deal.list', params: { filter: { CONTACT_ID: 7, CLOSED: 'N' }, select: ['ID', 'TITLE', 'STAGE_ID', 'OPPORTUNITY', 'CURRENCY_ID'], order: { ID: 'DESC' } } },
      { key: 'activities', method: 'crm.activity.list', params: { filter: { OWNER_TYPE_ID: 3, OWNER_ID: 7, COMPLETED: 'N' }, select: ['ID', 'SUBJECT', 'DEADLINE', 'TYPE_ID'], order: { DEADLINE: 'ASC' } } },
    ]);
    expect(openItemsCommands('COMPANY', 4)[2]?.params.filter).toEqual({ COMPANY_ID: 4, CLOSED: 'N' });
    expect(openItemsCommands('DEAL', 9).map((c) => [c.method, c.params.filter ?? c.params.id])).toEqual([
      ['crm.deal.get', 9], ['user.get', undefined], ['crm.activity.list', { OWNER_TYPE_ID: 2, OWNER_ID: 9, COMPLETED: 'N' }],
    ]);
  });

  it('reopening the card within 30 s costs nothing; after 30 s it asks again; two cards at once make one request', async () => {
    const crm = seeded();
    let clock = 0;
    const reader = createOpenItems({ restAs: restOf(crm), now: () => clock });
    const [a, b] = await Promise.all([reader.read(as('p1'), 'CONTACT', 7), reader.read(as('p1'), 'CONTACT', 7)]);
    expect(a).toBe(b);
    expect(crm.batches).toHaveLength(1);
    clock = 29_999;
    await reader.read(as('p1'), 'CONTACT', 7);
    expect(crm.batches).toHaveLength(1);
    crm.deals = [];
    clock = 30_000;
    expect((await reader.read(as('p1'), 'CONTACT', 7)).deals).toEqual([]);
    expect(crm.batches).toHaveLength(2);
  });

  it('reads with the agent\'s own token and keys the cache by user: another agent on the same record asks again', async () => {
    const crm = seeded();
    const reader = createOpenItems({ restAs: restOf(crm) });
    await reader.read(as('p1', 11), 'CONTACT', 7);
    await reader.read(as('p1', 11), 'CONTACT', 7);
    await reader.read(as('p1', 12), 'CONTACT', 7);
    expect(crm.askedBy).toEqual(['token-p1-11', 'token-p1-12']);
  });

  it('keys the cache by portal and record', async () => {
    const one = seeded('p1');
    const two = seeded('p2');
    two.deals = [];
    const reader = createOpenItems({ restAs: restOf(one, two) });
    expect((await reader.read(as('p1'), 'CONTACT', 7)).deals).toHaveLength(1);
    expect((await reader.read(as('p2'), 'CONTACT', 7)).deals).toHaveLength(0);
    await reader.read(as('p1'), 'LEAD', 7);
    expect(one.batches).toHaveLength(2);
    expect(two.batches).toHaveLength(1);
    reader.forget('p1');
    await reader.read(as('p1'), 'CONTACT', 7);
    await reader.read(as('p2'), 'CONTACT', 7);
    expect(one.batches).toHaveLength(3);
    expect(two.batches).toHaveLength(1);
  });

  it('is bounded: past maxEntries the least recently read record is dropped', async () => {
    const crm = seeded();
    const reader = createOpenItems({ restAs: restOf(crm), maxEntries: 2 });
    await reader.read(as('p1'), 'CONTACT', 7);
    await reader.read(as('p1'), 'COMPANY', 4);
    await reader.read(as('p1'), 'CONTACT', 7);
    await reader.read(as('p1'), 'LEAD', 7);
    expect(crm.batches).toHaveLength(3);
    await reader.read(as('p1'), 'CONTACT', 7);
    expect(crm.batches).toHaveLength(3);
    await reader.read(as('p1'), 'COMPANY', 4);
    expect(crm.batches).toHaveLength(4);
  });

  it('a failed command fails the read with its Bitrix24 code, and the failure is not cached', async () => {
    const crm = seeded();
    crm.failWith = { error: 'ACCESS_DENIED', description: 'Access denied.' };
    const reader = createOpenItems({ restAs: restOf(crm) });
    const err = await reader.read(as('p1'), 'CONTACT', 7).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BitrixError);
    expect(err).toMatchObject({ code: 'ACCESS_DENIED', retryable: false });
    crm.failWith = null;
    expect((await reader.read(as('p1'), 'CONTACT', 7)).deals).toHaveLength(1);
    expect(crm.batches).toHaveLength(2);
  });

  it('a transport failure is not cached either', async () => {
    const crm = seeded();
    crm.throwError = new BitrixError('QUERY_LIMIT_EXCEEDED', 'Too many requests', 503, true);
    const reader = createOpenItems({ restAs: restOf(crm) });
    await expect(reader.read(as('p1'), 'CONTACT', 7)).rejects.toMatchObject({ code: 'QUERY_LIMIT_EXCEEDED' });
    crm.throwError = null;
    await expect(reader.read(as('p1'), 'CONTACT', 7)).resolves.toMatchObject({ deals: [{ id: 2 }] });
  });

  it("names stages as the portal does: the general pipeline's in the same request, another pipeline's in one more, both cached", async () => {
    const crm = seeded();
    crm.deals.push({ ID: '5', TITLE: 'Pipeline deal', STAGE_ID: 'C3:NEGOTIATION', OPPORTUNITY: '10', CURRENCY_ID: 'USD', CONTACT_ID: '7', COMPANY_ID: '0', CLOSED: 'N' });
    crm.deals.push({ ID: '6', TITLE: 'Unknown stage', STAGE_ID: 'C3:RENAMED_AWAY', OPPORTUNITY: '10', CURRENCY_ID: 'USD', CONTACT_ID: '7', COMPANY_ID: '0', CLOSED: 'N' });
    let clock = 0;
    const reader = createOpenItems({ restAs: restOf(crm), now: () => clock, ttlMs: 1 });
    const items = await reader.read(as('p1'), 'CONTACT', 7);
    expect(items.deals.map((d) => [d.stageId, d.stageName])).toEqual([['PREPARATION', 'Quote sent'], ['C3:NEGOTIATION', 'Negotiation'], ['C3:RENAMED_AWAY', null]]);
    expect(crm.batches.map((b) => b.filter((c) => c.method.endsWith('.list')).map((c) => `${c.method} ${JSON.stringify(c.params.filter)}`))).toEqual([
      ['crm.deal.list {"CONTACT_ID":7,"CLOSED":"N"}', 'crm.activity.list {"OWNER_TYPE_ID":3,"OWNER_ID":7,"COMPLETED":"N"}', 'crm.status.list {"ENTITY_ID":"DEAL_STAGE"}'],
      ['crm.status.list {"ENTITY_ID":"DEAL_STAGE_3"}'],
    ]);
    clock = 10;
    await reader.read(as('p1'), 'CONTACT', 7);
    expect(crm.batches).toHaveLength(3);
    expect(crm.batches[2]?.map((c) => c.method)).toEqual(['crm.contact.get', 'user.get', 'crm.deal.list', 'crm.activity.list']);
    clock = 10 * 60_000;
    await reader.read(as('p1'), 'CONTACT', 7);
    expect(crm.batches.slice(3).map((b) => b.map((c) => c.method))).toEqual([
      ['crm.contact.get', 'user.get', 'crm.deal.list', 'crm.activity.list', 'crm.status.list'], ['crm.status.list'],
    ]);
  });

  it('a portal that refuses the stage list still gets its open items (stage ids only), and is not asked again for 10 min', async () => {
    const crm = seeded();
    crm.failMethods.add('crm.status.list');
    let clock = 0;
    const reader = createOpenItems({ restAs: restOf(crm), now: () => clock, ttlMs: 1 });
    const items = await reader.read(as('p1'), 'CONTACT', 7);
    expect(items.deals).toEqual([{ id: 2, title: 'Renewal 2027', stageId: 'PREPARATION', stageName: null, amount: 1500.5, currency: 'EUR' }]);
    clock = 5;
    await reader.read(as('p1'), 'CONTACT', 7);
    expect(crm.batches.flat().filter((c) => c.method === 'crm.status.list')).toHaveLength(1);
  });

  it('a pipeline whose stage names cannot be fetched leaves those names null, says so in the log, and the read succeeds', async () => {
    const crm = seeded();
    crm.deals.push({ ID: '5', TITLE: 'Pipeline deal', STAGE_ID: 'C3:NEGOTIATION', OPPORTUNITY: '10', CURRENCY_ID: 'USD', CONTACT_ID: '7', COMPANY_ID: '0', CLOSED: 'N' });
    crm.throwFor = (commands) => commands.every((c) => c.method === 'crm.status.list');
    const warnings: unknown[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line)) });
    const items = await createOpenItems({ restAs: restOf(crm), log }).read(as('p1'), 'CONTACT', 7);
    expect(items.deals.map((d) => [d.stageId, d.stageName])).toEqual([['PREPARATION', 'Quote sent'], ['C3:NEGOTIATION', null]]);
    expect(warnings).toEqual([expect.objectContaining({ portal: 'p1', stageLists: ['DEAL_STAGE_3'], msg: expect.stringContaining('stage names') })]);
  });

  it('reads PHP-style answers: an empty list as [] or {}, rows without an id skipped, a full first page flagged', () => {
    const full = Array.from({ length: 50 }, (_, i) => ({ ID: String(i + 1), TITLE: `Deal ${i + 1}`, STAGE_ID: 'NEW', OPPORTUNITY: '0', CURRENCY_ID: 'USD' }));
    const items = readOpenItems({ results: { deals: full, activities: {} }, errors: {} }, 5);
    expect(items.deals).toHaveLength(50);
    expect(items.moreDeals).toBe(true);
    expect(items.activities).toEqual([]);
    const odd = readOpenItems({ results: { deals: [{ TITLE: 'no id' }, null, 'x'], activities: [{ ID: '3', SUBJECT: 7, TYPE_ID: 'x' }] }, errors: {} }, 5);
    expect(odd.deals).toEqual([]);
    expect(odd.activities).toEqual([{ id: 3, subject: '7', deadline: null, typeId: 0 }]);
  });
});
