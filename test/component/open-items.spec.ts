// @vitest-environment happy-dom
/**
 * The call card's "Open items": the store (one request per record, errors people can act on) and the block in the
 * call card (deals with stage and amount, activities with deadline, skeleton, empty state, error with retry).
 */
import { createPinia, setActivePinia } from 'pinia';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import App from '../../client/App.vue';
import { setApi } from '../../client/apiContext.js';
import { useOpenItemsStore } from '../../client/stores/openItems.js';
import type { OpenItemsResponse } from '../../contract/api-shapes.js';
import { fail, fakeApi, ok, type Reply } from './fake-api.js';
import { callFixture } from './fixtures.js';
import { flushPromises, mountWithApp } from './mount.js';

function itemsFixture(overrides: Partial<OpenItemsResponse> = {}): OpenItemsResponse {
  return {
    entityType: 'CONTACT',
    entityId: 7,
    record: { name: 'John Doe', responsible: { id: 1, name: 'Anna Admin' } },
    deals: [
      { id: 2, title: 'Renewal 2027', stageId: 'PREPARATION', stageName: null, amount: 1500.5, currency: 'EUR' },
      { id: 3, title: 'Pilot', stageId: 'C3:NEGOTIATION', stageName: null, amount: null, currency: null },
      { id: 4, title: 'Expansion', stageId: 'C3:DEMO', stageName: 'Demo booked', amount: 20, currency: 'EURO' },
    ],
    activities: [
      { id: 11, subject: 'Send the contract', deadline: '2020-01-01T09:00:00+00:00', typeId: 3 },
      { id: 10, subject: 'Call back about the quote', deadline: '2099-12-03T10:00:00+00:00', typeId: 2 },
      { id: 13, subject: 'Check in', deadline: null, typeId: 6 },
    ],
    moreDeals: false,
    moreActivities: false,
    fetchedAt: 1,
    ...overrides,
  };
}

const card = (overrides: Record<string, unknown> = {}) => ({
  callId: 'externalCall.1', phoneNumber: '+14155550100', lineNumber: 'yeastar-1', direction: 'incoming', state: 'connected',
  crmEntityType: 'CONTACT', crmEntityId: 7, ...overrides,
});

function mountCard(openItems: Reply | Reply[], cardOverrides: Record<string, unknown> = {}, lang = 'en') {
  const fake = fakeApi({
    'GET /calls': ok({ calls: [callFixture('old', Date.UTC(2026, 0, 1))], nextBefore: null }),
    'GET /crm/open-items': openItems,
  });
  const wrapper = mountWithApp(App, fake.api, { props: { view: { kind: 'call-card', card: card(cardOverrides) }, frame: null }, lang });
  return { wrapper, seen: fake.seen };
}

afterEach(() => {
  document.body.innerHTML = '';
});

describe('open items store', () => {
  beforeEach(() => setActivePinia(createPinia()));

  it('asks for the record once even when opened twice at once, and keeps the answer', async () => {
    const { api, seen } = fakeApi({ 'GET /crm/open-items': ok(itemsFixture()) });
    setApi(api);
    const store = useOpenItemsStore();
    await Promise.all([store.open('CONTACT', 7), store.refresh()]);
    expect(seen.map((r) => [r.url, r.params])).toEqual([['/crm/open-items', { entityType: 'CONTACT', entityId: 7 }]]);
    expect(store.items?.deals).toHaveLength(3);
    expect(store.error).toBeNull();
  });

  it('keeps an error people can act on, and clears it on a good retry', async () => {
    const { api } = fakeApi({ 'GET /crm/open-items': [fail(503, 'BITRIX_QUERY_LIMIT_EXCEEDED', 'Too many requests'), ok(itemsFixture())] });
    setApi(api);
    const store = useOpenItemsStore();
    await store.open('CONTACT', 7);
    expect(store.error?.key).toBe('errors.unavailable');
    expect(store.items).toBeNull();
    await store.refresh();
    expect(store.error).toBeNull();
    expect(store.items?.activities).toHaveLength(3);
  });

  it('an answer for a record the card has left is dropped', async () => {
    let release: (() => void) | null = null;
    const { api } = fakeApi({
      'GET /crm/open-items': (request) => (request.params.entityId === 7 ? ok(itemsFixture()) : ok(itemsFixture({ entityType: 'LEAD', entityId: 9, deals: [] }))),
    });
    const slowApi = { ...api, openItems: async (q: Parameters<typeof api.openItems>[0]) => {
      if (q.entityId === 7) await new Promise<void>((resolve) => { release = resolve; });
      return api.openItems(q);
    } };
    setApi(slowApi);
    const store = useOpenItemsStore();
    const first = store.open('CONTACT', 7);
    await store.open('LEAD', 9);
    expect(store.items?.entityId).toBe(9);
    (release as (() => void) | null)?.();
    await first;
    expect(store.items?.entityId).toBe(9);
  });
});

describe('call card: open items', () => {
  it('shows open deals with stage and amount, and open activities with deadline, overdue first', async () => {
    const { wrapper, seen } = mountCard(ok(itemsFixture()));
    await flushPromises();
    expect(seen.find((r) => r.url === '/crm/open-items')?.params).toEqual({ entityType: 'CONTACT', entityId: 7 });
    const block = wrapper.find('[data-testid="open-items"]');
    expect(block.text()).toContain('Open items');
    const deals = wrapper.findAll('[data-testid="open-deal"]');
    expect(deals).toHaveLength(3);
    expect(deals[0]?.text()).toContain('Renewal 2027');
    expect(deals[0]?.text()).toContain('Stage: Preparing documents');
    expect(deals[0]?.text()).toMatch(/€\s?1,500\.50|1,500\.50\s?€/);
    expect(deals[1]?.text()).toContain('Stage: C3:NEGOTIATION');
    expect(deals[1]?.text()).toContain('No amount');
    expect(deals[2]?.text()).toContain('Stage: Demo booked');
    expect(deals[2]?.text()).toContain('20 EURO');
    const activities = wrapper.findAll('[data-testid="open-activity"]');
    expect(activities.map((a) => a.text())).toEqual([
      expect.stringMatching(/^Task.*Send the contract.*Due .*2020.*Overdue$/),
      expect.stringMatching(/^Call.*Call back about the quote.*Due .*2099/),
      expect.stringMatching(/^To-do.*Check in.*No deadline/),
    ]);
    expect(activities[1]?.text()).not.toContain('Overdue');
    expect(activities[0]?.find('time').attributes('datetime')).toBe('2020-01-01T09:00:00+00:00');
    expect(wrapper.findAll('[data-testid="call-row"]')).toHaveLength(1);
  });

  it('shows a skeleton while loading, then the empty states', async () => {
    let answer: ((value: { status: number; body: unknown }) => void) | null = null;
    const pending = new Promise<{ status: number; body: unknown }>((resolve) => { answer = resolve; });
    const fake = fakeApi({ 'GET /calls': ok({ calls: [], nextBefore: null }) });
    const api = { ...fake.api, openItems: async () => (await pending).body as OpenItemsResponse };
    const wrapper = mountWithApp(App, api, { props: { view: { kind: 'call-card', card: card() }, frame: null } });
    await flushPromises();
    expect(wrapper.find('[data-testid="open-items-loading"]').exists()).toBe(true);
    expect(wrapper.find('[data-testid="open-items"]').exists()).toBe(false);
    (answer as ((value: { status: number; body: unknown }) => void) | null)?.(ok(itemsFixture({ deals: [], activities: [] })));
    await flushPromises();
    expect(wrapper.find('[data-testid="open-items-loading"]').exists()).toBe(false);
    expect(wrapper.find('[data-testid="no-open-deals"]').text()).toBe('No open deals.');
    expect(wrapper.find('[data-testid="no-open-activities"]').text()).toBe('No open activities.');
  });

  it('an error says what happened and a retry loads the items', async () => {
    const { wrapper, seen } = mountCard([fail(502, 'BITRIX_ACCESS_DENIED', 'Bitrix24 answered: ACCESS_DENIED: Access denied.'), ok(itemsFixture())]);
    await flushPromises();
    const error = wrapper.find('[data-testid="open-items-error"]');
    expect(error.exists()).toBe(true);
    // Issue 12 point 3: our words with a next step, not Bitrix24's raw "ACCESS_DENIED: Access denied.".
    expect(error.text()).toContain('Bitrix24 does not let you see this');
    expect(error.text()).not.toContain('ACCESS_DENIED');
    const retry = error.findAll('button').find((b) => b.text() === 'Try again');
    await retry?.trigger('click');
    await flushPromises();
    expect(wrapper.find('[data-testid="open-items-error"]').exists()).toBe(false);
    expect(wrapper.findAll('[data-testid="open-deal"]')).toHaveLength(3);
    expect(seen.filter((r) => r.url === '/crm/open-items')).toHaveLength(2);
  });

  // Since issue 12 point 5 a deal's card leads with the deal and its activities too (it asked for nothing before).
  it('a lead shows only its activities; a deal its activities; an unknown caller asks for nothing and may create a record', async () => {
    const lead = mountCard(ok(itemsFixture({ entityType: 'LEAD', entityId: 9, deals: [] })), { crmEntityType: 'LEAD', crmEntityId: 9 });
    await flushPromises();
    expect(lead.seen.find((r) => r.url === '/crm/open-items')?.params).toEqual({ entityType: 'LEAD', entityId: 9 });
    expect(lead.wrapper.text()).not.toContain('Open deals');
    expect(lead.wrapper.findAll('[data-testid="open-activity"]')).toHaveLength(3);
    lead.wrapper.unmount();
    const deal = mountCard(ok(itemsFixture({ entityType: 'DEAL', entityId: 8061, deals: [] })), { crmEntityType: 'DEAL', crmEntityId: 8061 });
    await flushPromises();
    expect(deal.seen.find((r) => r.url === '/crm/open-items')?.params).toEqual({ entityType: 'DEAL', entityId: 8061 });
    expect(deal.wrapper.text()).not.toContain('Open deals');
    expect(deal.wrapper.findAll('[data-testid="open-activity"]')).toHaveLength(3);
    deal.wrapper.unmount();
    const unknown = mountCard(ok(itemsFixture()), { crmEntityType: '', crmEntityId: 0 });
    await flushPromises();
    expect(unknown.seen.some((r) => r.url === '/crm/open-items')).toBe(false);
    expect(unknown.wrapper.find('[data-testid="open-items"]').exists()).toBe(false);
    expect(unknown.wrapper.find('[data-testid="create-record"]').text()).toMatch(/Unknown caller.*Create contact.*Create lead/s);
    unknown.wrapper.unmount();
  });

  it('says "only the first 50" when Bitrix24 has more, and speaks Russian and Chinese', async () => {
    const many = mountCard(ok(itemsFixture({ moreDeals: true })));
    await flushPromises();
    expect(many.wrapper.find('[data-testid="open-items"]').text()).toContain('Only the first 50 are shown');
    many.wrapper.unmount();
    for (const [lang, title, overdue] of [['ru', 'Открытые дела и сделки', 'Просрочено'], ['sc', '未完成事项', '已逾期']] as const) {
      const localized = mountCard(ok(itemsFixture()), {}, lang);
      await flushPromises();
      const text = localized.wrapper.find('[data-testid="open-items"]').text();
      expect(text).toContain(title);
      expect(text).toContain(overdue);
      localized.wrapper.unmount();
    }
  });
});
