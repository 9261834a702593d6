// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from 'vitest';
import App from '../../client/App.vue';
import { viewFor } from '../../client/frame.js';
import { localeFor } from '../../client/i18n/index.js';
import { fakeApi, ok } from './fake-api.js';
import { callFixture, settingsFixture, statusFixture } from './fixtures.js';
import { flushPromises, mountWithApp } from './mount.js';

afterEach(() => {
  document.body.innerHTML = '';
  window.localStorage.clear();
  window.history.replaceState(null, '', window.location.pathname);
});

describe('placement → view', () => {
  it('opens settings on the app page, the timeline on CRM detail tabs and the call card in CALL_CARD', () => {
    expect(viewFor('DEFAULT', {})).toEqual({ kind: 'settings' });
    expect(viewFor('CRM_CONTACT_DETAIL_TAB', { ID: '7' })).toEqual({ kind: 'timeline', entityType: 'CONTACT', entityId: 7 });
    expect(viewFor('CRM_DEAL_DETAIL_TAB', { ID: '8061', URI: '/crm/deal/details/8061/' })).toMatchObject({ entityType: 'DEAL', entityId: 8061 });
    expect(viewFor('CRM_LEAD_DETAIL_TAB', {})).toEqual({ kind: 'unsupported', placement: 'CRM_LEAD_DETAIL_TAB' });
    const card = viewFor('CALL_CARD', { CALL_ID: 'externalCall.1', PHONE_NUMBER: '+14155550100', CRM_ENTITY_TYPE: 'CONTACT', CRM_ENTITY_ID: '7', CALL_DIRECTION: 'incoming' });
    expect(card).toMatchObject({ kind: 'call-card', card: { callId: 'externalCall.1', crmEntityType: 'CONTACT', crmEntityId: 7, direction: 'incoming' } });
  });

  it('follows Bitrix24 LANG codes to a locale', () => {
    expect(localeFor('ru')).toBe('ru');
    expect(localeFor('sc')).toBe('zh');
    expect(localeFor('tc')).toBe('zh');
    expect(localeFor('de')).toBe('en');
  });
});

describe('settings view', () => {
  it('gives a non-admin their own binding and status, and no settings forms', async () => {
    const { api, seen } = fakeApi({ 'GET /status': ok(statusFixture({ isAdmin: false })) });
    const wrapper = mountWithApp(App, api, { props: { view: { kind: 'settings' }, frame: null } });
    await flushPromises();
    expect(wrapper.find('[data-testid="own-extension"]').text()).toBe('1001');
    expect(wrapper.find('form').exists()).toBe(false);
    expect(seen.map((r) => r.url)).toEqual(['/status']);
  });

  // Issue 12 point 6: the sections are tabs now, each shown when its tab is opened (was: one long page of sections).
  it('gives an admin every section in its tab, and users/contact sync only once a PBX is configured', async () => {
    const { api } = fakeApi({
      'GET /status': ok(statusFixture({ configured: false })),
      'GET /settings': ok(settingsFixture()),
      'GET /calls/recent': ok({ calls: [], nextBefore: null }),
      'GET /outbox/failed': ok([]),
    });
    const wrapper = mountWithApp(App, api, { props: { view: { kind: 'settings' }, frame: null } });
    await flushPromises();
    expect(wrapper.findAll('[role="tab"]').map((tab) => tab.text())).toEqual(['Connection', 'Users', 'Contact sync', 'Auto-create', 'Calls', 'Activity', 'Click-to-call']);
    expect(wrapper.find('[data-testid="connection-section"]').exists()).toBe(true);
    expect(wrapper.find('[data-testid="auto-create-section"]').exists()).toBe(false);
    const open = async (name: string): Promise<void> => {
      const tab = wrapper.findAll('[role="tab"]').find((t) => t.text() === name);
      await tab?.trigger('mousedown', { button: 0 });
      await flushPromises();
    };
    await open('Auto-create');
    expect(wrapper.find('[data-testid="auto-create-section"]').exists()).toBe(true);
    expect(wrapper.find('[data-testid="connection-section"]').exists()).toBe(false);
    // The open tab is remembered for the next time the page opens.
    expect(window.localStorage.getItem('pbx-connector:settings-tab')).toBe('auto-create');
    await open('Users');
    expect(wrapper.find('[data-testid="users-section"]').exists()).toBe(false);
    expect(wrapper.find('[data-testid="configure-first"]').exists()).toBe(true);
    await open('Click-to-call');
    expect(wrapper.find('[data-testid="click-to-call-help"] a').attributes('href')).toBe('https://acme.bitrix24.com/telephony/configs.php');
  });

  it('renders in Russian and Chinese by LANG', async () => {
    for (const [lang, text] of [['ru', 'Ваш внутренний номер'], ['sc', '您的分机']] as const) {
      const { api } = fakeApi({ 'GET /status': ok(statusFixture({ isAdmin: false })) });
      const wrapper = mountWithApp(App, api, { props: { view: { kind: 'settings' }, frame: null }, lang });
      await flushPromises();
      expect(wrapper.text()).toContain(text);
      wrapper.unmount();
    }
  });
});

describe('timeline view', () => {
  it('lists calls newest first with who answered and talk time, and pages on "load older"', async () => {
    const { api } = fakeApi({
      'GET /calls': (request) =>
        request.params.before
          ? ok({ calls: [callFixture('c1', Date.UTC(2026, 0, 1), { result: 'missed', answeredBy: null, talkSeconds: 0, recording: { available: false, state: 'none', url: null } })], nextBefore: null })
          : ok({ calls: [callFixture('c2', Date.UTC(2026, 0, 2))], nextBefore: Date.UTC(2026, 0, 2) }),
    });
    const wrapper = mountWithApp(App, api, { props: { view: { kind: 'timeline', entityType: 'CONTACT', entityId: 7 }, frame: null } });
    await flushPromises();
    const first = wrapper.findAll('[data-testid="call-row"]');
    expect(first).toHaveLength(1);
    expect(first[0]?.text()).toContain('answered by Anna Admin (1001)');
    expect(first[0]?.text()).toContain('talk time 0:42');
    expect(first[0]?.text()).toContain('Answered');
    await wrapper.find('[data-testid="load-more"]').trigger('click');
    await flushPromises();
    const rows = wrapper.findAll('[data-testid="call-row"]');
    expect(rows).toHaveLength(2);
    expect(rows[1]?.text()).toContain('Missed');
    expect(wrapper.find('[data-testid="load-more"]').exists()).toBe(false);
  });

  it('says so when the record has no calls', async () => {
    const { api } = fakeApi({ 'GET /calls': ok({ calls: [], nextBefore: null }) });
    const wrapper = mountWithApp(App, api, { props: { view: { kind: 'timeline', entityType: 'LEAD', entityId: 3 }, frame: null } });
    await flushPromises();
    expect(wrapper.find('[data-testid="timeline-empty"]').text()).toBe('No calls with this record yet.');
  });

  it('fetches a recording with the frame auth and plays it from a blob', async () => {
    const recording = { available: true, state: 'attached' as const, url: '/api/calls/c2/recording' };
    const { api, seen } = fakeApi({
      'GET /calls': ok({ calls: [callFixture('c2', Date.UTC(2026, 0, 2), { recording })], nextBefore: null }),
      'GET /calls/c2/recording': ok(new Blob(['RIFF'], { type: 'audio/wav' })),
    });
    const wrapper = mountWithApp(App, api, { props: { view: { kind: 'timeline', entityType: 'CONTACT', entityId: 7 }, frame: null } });
    await flushPromises();
    const play = wrapper.findAll('button').find((b) => b.text() === 'Play recording');
    await play?.trigger('click');
    await flushPromises();
    expect(wrapper.find('audio').attributes('src')).toMatch(/^blob:/);
    expect(seen.find((r) => r.url === '/calls/c2/recording')?.headers.authorization).toBe('Bearer frame-token-1');
  });

  it('shows an error with a way out', async () => {
    const { api } = fakeApi({ 'GET /calls': [{ status: 500, body: { error: 'INTERNAL', message: 'x' } }, ok({ calls: [], nextBefore: null })] });
    const wrapper = mountWithApp(App, api, { props: { view: { kind: 'timeline', entityType: 'CONTACT', entityId: 7 }, frame: null } });
    await flushPromises();
    const retry = wrapper.findAll('button').find((b) => b.text() === 'Try again');
    expect(retry).toBeDefined();
    await retry?.trigger('click');
    await flushPromises();
    expect(wrapper.find('[data-testid="timeline-empty"]').exists()).toBe(true);
  });
});

describe('call card view', () => {
  it("shows the caller's last calls and the live call's DID and queue", async () => {
    const { api } = fakeApi({
      'GET /calls': ok({
        calls: [
          callFixture('live', Date.UTC(2026, 0, 3), { live: true, result: null, answeredBy: null, via: 'Sales queue 6400', did: '+14155550000' }),
          callFixture('old', Date.UTC(2026, 0, 1)),
        ],
        nextBefore: null,
      }),
    });
    const card = { callId: 'externalCall.1', phoneNumber: '+14155550100', lineNumber: 'yeastar-1', direction: 'incoming', state: 'connecting', crmEntityType: 'CONTACT', crmEntityId: 7 };
    const wrapper = mountWithApp(App, api, { props: { view: { kind: 'call-card', card }, frame: null } });
    await flushPromises();
    expect(wrapper.text()).toContain('Call with +14155550100');
    expect(wrapper.find('[data-testid="pbx-details"]').text()).toContain('Sales queue 6400');
    expect(wrapper.find('[data-testid="pbx-details"]').text()).toContain('+14155550000');
    expect(wrapper.findAll('[data-testid="call-row"]')).toHaveLength(1);
  });
});
