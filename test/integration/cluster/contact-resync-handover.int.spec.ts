import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResyncResponse } from '../../../contract/api-shapes.js';
import type { Tenant } from '../../support/stack.js';
import { eventually } from '../foundation/server-under-test.js';
import { startTwoInstances, type TwoInstances } from './coherence-cluster.js';
import { tenantOwnedByA } from './support/portal-owned-by-a.js';

/**
 * Issue 14: contact sync's "re-sync all" started through an instance that does not own the portal. Before: that
 * instance had no PBX adapter and answered 409 PBX_NOT_CONNECTED (so behind a round-robin proxy the button failed
 * every other time), and its progress read "none". Now the start is handed to the owner, which writes the phonebook
 * over its own link, and the progress is asked of the owner from any instance (cluster/contact-sync-handover.ts).
 */

let two: TwoInstances;
let tenant: Tenant;
let leadId = 0;

beforeAll(async () => {
  two = await startTwoInstances();
  tenant = await tenantOwnedByA(two, { events: 'websocket' });
  const book = await two.api('a', tenant, 'admin', 'POST', '/phonebooks', { name: 'From Bitrix24' });
  expect(book.status, book.text).toBe(201);
  const saved = await two.api('a', tenant, 'admin', 'PUT', '/settings', { contactSync: { enabled: true, entityType: 'LEAD', phonebookId: (book.body as { id: string }).id } });
  expect(saved.status, saved.text).toBe(200);
  const { b24, pbx } = two.stack;
  leadId = await b24.seedCrm(tenant.memberId, 'LEAD', { TITLE: 'Quote', NAME: 'Thabo', LAST_NAME: 'Nkosi', PHONE: [{ VALUE: '+15550109911', VALUE_TYPE: 'MOBILE' }] });
  await pbx.scenario('inbound-answered', { from: '+15550109911', to: '1001', wait: true });
  await eventually(() => two.a.services.store.contactSync.get(tenant.memberId, 'LEAD', leadId)?.state === 'synced', 20_000, 100);
}, 180_000);
afterAll(async () => {
  await two.close();
});

describe('contact re-sync asked of the instance that does not own the portal', () => {
  it('runs on the owner over its link, and its progress reads the same through either instance', async () => {
    const { pbx } = two.stack;
    const entryId = two.a.services.store.contactSync.get(tenant.memberId, 'LEAD', leadId)?.pbxContactId ?? '';
    expect(await pbx.removeCompanyContact(Number(entryId))).toBe(true);
    const loginsBefore = (await pbx.tokens()).getTokenCalls;

    const started = await two.api('b', tenant, 'admin', 'POST', '/contact-sync/resync');
    expect(started.status, started.text).toBe(202);
    expect(started.body).toMatchObject({ total: 1 });
    let onB: ResyncResponse | undefined;
    await eventually(async () => {
      onB = (await two.api('b', tenant, 'admin', 'GET', '/contact-sync/resync')).body as ResyncResponse;
      return onB.running === false;
    }, 20_000, 100);
    expect(onB).toMatchObject({ total: 1, done: 1, rewritten: 1, failed: 0 });
    const onA = (await two.api('a', tenant, 'admin', 'GET', '/contact-sync/resync')).body as ResyncResponse;
    expect(onA).toEqual(onB);

    // Written back to the phonebook by the owner; B never logged in to the PBX.
    const rewrittenId = two.a.services.store.contactSync.get(tenant.memberId, 'LEAD', leadId)?.pbxContactId ?? '';
    expect((await pbx.companyContacts()).some((c) => String(c.id) === rewrittenId && c.last_name === 'Nkosi')).toBe(true);
    expect((await pbx.tokens()).getTokenCalls).toBe(loginsBefore);
    expect(await pbx.sockets()).toHaveLength(1);
    expect(two.logs()).toContain('contacts.resyncStart');
  }, 60_000);

  it('a non-admin cannot start it through the non-owner either', async () => {
    const refused = await two.api('b', tenant, 'agent', 'POST', '/contact-sync/resync');
    expect(refused.status).toBe(403);
  });
});
