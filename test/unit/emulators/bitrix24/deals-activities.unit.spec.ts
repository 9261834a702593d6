/**
 * Deals and open activities as the call card reads them: crm.deal.add/get/update/list (CLOSED from the stage,
 * CONTACT_ID the first linked contact, CONTACT_IDS accepted but not returned), crm.activity.list filtered by
 * OWNER_TYPE_ID / OWNER_ID / COMPLETED with DEADLINE, select and order; and the product's own batch for the card.
 * https://apidocs.bitrix24.com/api-reference/crm/deals/crm-deal-fields.html,
 * https://apidocs.bitrix24.com/api-reference/crm/timeline/activities/activity-base/crm-activity-list.html
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchCommandLine } from '../../../../server/bitrix/query.js';
import { openItemsCommands, readOpenItems, readStageNames, stageNameCommands } from '../../../../server/contacts/open-items.js';
import type { Bitrix24Cloud } from '../../../emulators/bitrix24/emulator.js';
import { installedPortal, resultOf, startCloudAndApp, stopCloudAndApp, type FakeApp } from './helpers.js';

let cloud: Bitrix24Cloud;
let app: FakeApp;

beforeAll(async () => {
  ({ cloud, app } = await startCloudAndApp());
});

afterAll(() => stopCloudAndApp(cloud, app));

const phone = (value: string) => [{ VALUE: value, VALUE_TYPE: 'WORK' }];

describe('crm.deal.*', () => {
  it('adds a deal in stage NEW, open; a final stage closes it; CONTACT_IDS sets CONTACT_ID and is not returned', async () => {
    const { rest } = await installedPortal(cloud, app);
    const id = (await rest('crm.deal.add', { fields: { TITLE: 'Renewal', CONTACT_IDS: [5, 6], OPPORTUNITY: 1200, CURRENCY_ID: 'EUR' } })).body.result;
    expect(typeof id).toBe('number');
    const deal = resultOf(await rest('crm.deal.get', { id }));
    expect(deal).toMatchObject({ ID: String(id), TITLE: 'Renewal', STAGE_ID: 'NEW', CLOSED: 'N', CONTACT_ID: '5', OPPORTUNITY: '1200', CURRENCY_ID: 'EUR', CATEGORY_ID: '0' });
    expect(deal).not.toHaveProperty('CONTACT_IDS');
    expect(deal).not.toHaveProperty('HAS_PHONE');
    await rest('crm.deal.update', { id, fields: { STAGE_ID: 'WON' } });
    expect(resultOf(await rest('crm.deal.get', { id }))).toMatchObject({ STAGE_ID: 'WON', CLOSED: 'Y' });
    await rest('crm.deal.update', { id, fields: { STAGE_ID: 'C3:PREPARATION' } });
    expect(resultOf(await rest('crm.deal.get', { id }))).toMatchObject({ CLOSED: 'N' });
    await rest('crm.deal.update', { id, fields: { STAGE_ID: 'C3:LOSE' } });
    expect(resultOf(await rest('crm.deal.get', { id }))).toMatchObject({ CLOSED: 'Y' });
    const missing = await rest('crm.deal.get', { id: 9999 });
    expect([missing.status, missing.body.error_description]).toEqual([400, 'Not found']);
  });

  it('lists by CONTACT_ID / COMPANY_ID and CLOSED with select; seedCrm makes deals too; deals never answer a phone search', async () => {
    const { portal, rest } = await installedPortal(cloud, app);
    const contact = cloud.seedCrm(portal.memberId, 'CONTACT', { NAME: 'Ann', PHONE: phone('+15550100') });
    const open = cloud.seedCrm(portal.memberId, 'DEAL', { TITLE: 'Open one', CONTACT_ID: contact, STAGE_ID: 'PREPARATION', OPPORTUNITY: '50', PHONE: phone('+15550100') });
    cloud.seedCrm(portal.memberId, 'DEAL', { TITLE: 'Closed one', CONTACT_ID: contact, CLOSED: 'Y' });
    const companyDeal = cloud.seedCrm(portal.memberId, 'DEAL', { TITLE: 'Company one', COMPANY_ID: 77 });
    const listed = await rest('crm.deal.list', { filter: { CONTACT_ID: contact, CLOSED: 'N' }, select: ['ID', 'TITLE', 'STAGE_ID', 'OPPORTUNITY', 'CURRENCY_ID'] });
    expect(listed.body.result).toEqual([{ ID: String(open), TITLE: 'Open one', STAGE_ID: 'PREPARATION', OPPORTUNITY: '50', CURRENCY_ID: 'USD' }]);
    expect(listed.body.total).toBe(1);
    const byCompany = (await rest('crm.deal.list', { filter: { COMPANY_ID: 77 } })).body.result as { ID: string }[];
    expect(byCompany.map((d) => d.ID)).toEqual([String(companyDeal)]);
    expect(cloud.getCrm(portal.memberId, 'DEAL', open)).toMatchObject({ TITLE: 'Open one', CLOSED: 'N' });
    expect((await rest('crm.duplicate.findbycomm', { type: 'PHONE', values: ['+15550100'] })).body.result).toEqual({ CONTACT: [contact] });
  });
});

describe('crm.activity.list for open items', () => {
  it('filters by owner and COMPLETED, gives DEADLINE (START_TIME; END_TIME for a task), honours select and order', async () => {
    const { portal, rest } = await installedPortal(cloud, app);
    const contact = cloud.seedCrm(portal.memberId, 'CONTACT', { NAME: 'Ann', PHONE: phone('+15550111') });
    const lead = cloud.seedCrm(portal.memberId, 'LEAD', { TITLE: 'L', PHONE: phone('+15550112') });
    const comms = [{ VALUE: '+15550111' }];
    const call = cloud.seedActivity(portal.memberId, { OWNER_TYPE_ID: 3, OWNER_ID: contact, TYPE_ID: 2, SUBJECT: 'Call back', START_TIME: '2026-12-03T10:00:00+00:00', END_TIME: '2026-12-03T10:30:00+00:00', COMMUNICATIONS: comms });
    const task = cloud.seedActivity(portal.memberId, { OWNER_TYPE_ID: 3, OWNER_ID: contact, TYPE_ID: 3, SUBJECT: 'Send contract', START_TIME: '2026-11-20T09:00:00+00:00', END_TIME: '2026-12-01T18:00:00+00:00', COMMUNICATIONS: comms });
    cloud.seedActivity(portal.memberId, { OWNER_TYPE_ID: 3, OWNER_ID: contact, TYPE_ID: 2, SUBJECT: 'Done', COMPLETED: 'Y', START_TIME: '2026-11-01T09:00:00+00:00', COMMUNICATIONS: comms });
    cloud.seedActivity(portal.memberId, { OWNER_TYPE_ID: 1, OWNER_ID: lead, TYPE_ID: 2, SUBJECT: 'Lead call', START_TIME: '2026-11-30T09:00:00+00:00', COMMUNICATIONS: comms });
    const answer = await rest('crm.activity.list', {
      filter: { OWNER_TYPE_ID: 3, OWNER_ID: contact, COMPLETED: 'N' }, select: ['ID', 'SUBJECT', 'DEADLINE', 'TYPE_ID'], order: { DEADLINE: 'ASC' },
    });
    expect(answer.body.result).toEqual([
      { ID: String(task), SUBJECT: 'Send contract', DEADLINE: '2026-12-01T18:00:00+00:00', TYPE_ID: '3' },
      { ID: String(call), SUBJECT: 'Call back', DEADLINE: '2026-12-03T10:00:00+00:00', TYPE_ID: '2' },
    ]);
    const star = (await rest('crm.activity.list', { filter: { ID: call }, select: ['*'] })).body.result as Record<string, unknown>[];
    expect(star[0]).not.toHaveProperty('COMMUNICATIONS');
    expect(star[0]).toHaveProperty('DEADLINE');
    const named = (await rest('crm.activity.list', { filter: { ID: call }, select: ['*', 'COMMUNICATIONS'] })).body.result as Record<string, unknown>[];
    expect(named[0]).toHaveProperty('COMMUNICATIONS');
    expect(() => cloud.seedActivity(portal.memberId, { OWNER_TYPE_ID: 2, OWNER_ID: 999, TYPE_ID: 2, COMMUNICATIONS: comms })).toThrow(/Owner not found/);
  });

  it("answers the product's call-card batch (deals + activities in one request) the way open-items reads it", async () => {
    const { portal, rest } = await installedPortal(cloud, app);
    const contact = cloud.seedCrm(portal.memberId, 'CONTACT', { NAME: 'Bo', PHONE: phone('+15550122') });
    const deal = cloud.seedCrm(portal.memberId, 'DEAL', { TITLE: 'Upgrade', CONTACT_ID: contact, STAGE_ID: 'EXECUTING', OPPORTUNITY: '990.5', CURRENCY_ID: 'EUR' });
    cloud.seedCrm(portal.memberId, 'DEAL', { TITLE: 'Lost', CONTACT_ID: contact, STAGE_ID: 'LOSE' });
    const onDeal = cloud.seedActivity(portal.memberId, { OWNER_TYPE_ID: 2, OWNER_ID: deal, TYPE_ID: 2, SUBJECT: 'On the deal', START_TIME: '2026-12-02T09:00:00+00:00', COMMUNICATIONS: [{ VALUE: '+15550122' }] });
    const todo = cloud.seedActivity(portal.memberId, { OWNER_TYPE_ID: 3, OWNER_ID: contact, TYPE_ID: 6, SUBJECT: 'Prepare offer', START_TIME: '2026-12-04T09:00:00+00:00', COMMUNICATIONS: [{ VALUE: '+15550122' }] });
    const commands = [...openItemsCommands('CONTACT', contact), ...stageNameCommands(['DEAL_STAGE', 'DEAL_STAGE_3'])];
    const cmd = Object.fromEntries(commands.map((c) => [c.key, batchCommandLine(c.method, c.params)]));
    const answer = await rest('batch', { halt: 0, cmd });
    const body = resultOf(answer);
    expect(body.result_error).toEqual([]);
    const items = readOpenItems({ results: body.result as Record<string, unknown>, errors: {} }, 1);
    expect(items.deals).toEqual([{ id: deal, title: 'Upgrade', stageId: 'EXECUTING', stageName: null, amount: 990.5, currency: 'EUR' }]);
    expect(items.activities).toEqual([{ id: todo, subject: 'Prepare offer', deadline: '2026-12-04T09:00:00+00:00', typeId: 6 }]);
    expect(items.activities.map((a) => a.id)).not.toContain(onDeal);
    const names = readStageNames({ results: body.result as Record<string, unknown>, errors: {} });
    expect(names.get('DEAL_STAGE')?.get('EXECUTING')).toBe('In progress');
    expect(names.get('DEAL_STAGE_3')?.get('C3:EXECUTING')).toBe('In progress');
  });
});

describe('crm.status.* (deal stages)', () => {
  it('lists the default stages per pipeline with semantics; add prefixes a pipeline stage; update renames', async () => {
    const { rest } = await installedPortal(cloud, app);
    const general = (await rest('crm.status.list', { filter: { ENTITY_ID: 'DEAL_STAGE' } })).body.result as Record<string, string>[];
    expect(general.map((s) => s.STATUS_ID)).toEqual(['NEW', 'PREPARATION', 'PREPAYMENT_INVOICE', 'EXECUTING', 'FINAL_INVOICE', 'WON', 'LOSE', 'APOLOGY']);
    expect(general.find((s) => s.STATUS_ID === 'WON')).toMatchObject({ NAME: 'Deal won', SEMANTICS: 'S', CATEGORY_ID: '0', ENTITY_ID: 'DEAL_STAGE' });
    const added = (await rest('crm.status.add', { fields: { ENTITY_ID: 'DEAL_STAGE_3', STATUS_ID: 'DEMO', NAME: 'Demo booked', SORT: 25 } })).body.result;
    const pipeline = (await rest('crm.status.list', { filter: { ENTITY_ID: 'DEAL_STAGE_3' }, select: ['STATUS_ID', 'NAME'] })).body.result as Record<string, string>[];
    expect(pipeline.slice(0, 3)).toEqual([
      { ID: expect.any(String), STATUS_ID: 'C3:NEW', NAME: 'New' },
      { ID: expect.any(String), STATUS_ID: 'C3:PREPARATION', NAME: 'Preparing documents' },
      { ID: String(added), STATUS_ID: 'C3:DEMO', NAME: 'Demo booked' },
    ]);
    const executing = general.find((s) => s.STATUS_ID === 'EXECUTING');
    await rest('crm.status.update', { id: executing?.ID, fields: { NAME: 'Working on it' } });
    const renamed = (await rest('crm.status.list', { filter: { ENTITY_ID: 'DEAL_STAGE', STATUS_ID: 'EXECUTING' } })).body.result as Record<string, string>[];
    expect(renamed.map((s) => s.NAME)).toEqual(['Working on it']);
    const apology = (await rest('crm.deal.add', { fields: { TITLE: 'x', STAGE_ID: 'APOLOGY' } })).body.result;
    expect(resultOf(await rest('crm.deal.get', { id: apology })).CLOSED).toBe('Y');
  });
});
