// @vitest-environment happy-dom
/**
 * The settings-page parts of issue 13: the missed-call task form sends only its own part and refuses a deadline the
 * server would refuse; the routing switch sends only `routing`; the Activity part lists open missed-call tasks.
 */
import { afterEach, describe, expect, it } from 'vitest';
import ActivitySection from '../../client/components/ActivitySection.vue';
import MissedCallTasksSection from '../../client/components/MissedCallTasksSection.vue';
import RoutingSection from '../../client/components/RoutingSection.vue';
import { useActivityStore } from '../../client/stores/activity.js';
import { useSettingsStore } from '../../client/stores/settings.js';
import { fakeApi, ok } from './fake-api.js';
import { settingsFixture } from './fixtures.js';
import { flushPromises, mountWithApp } from './mount.js';

afterEach(() => {
  document.body.innerHTML = '';
});

describe('Missed-call tasks form', () => {
  it('saves the missed-call task part only', async () => {
    const { api, seen } = fakeApi({ 'GET /settings': ok(settingsFixture()), 'PUT /settings': ok(settingsFixture()) });
    const wrapper = mountWithApp(MissedCallTasksSection, api);
    await useSettingsStore().load();
    await flushPromises();
    await wrapper.find('form').trigger('submit');
    await flushPromises();
    expect(seen.find((r) => r.method === 'PUT')?.body).toEqual({ missedCallTasks: { enabled: false, defaultUserId: null, deadlineHours: 2 } });
  });

  it('refuses a deadline of 0 hours and sends nothing', async () => {
    const { api, seen } = fakeApi({ 'GET /settings': ok(settingsFixture()) });
    const wrapper = mountWithApp(MissedCallTasksSection, api);
    await useSettingsStore().load();
    await flushPromises();
    await wrapper.find('[data-testid="missed-call-tasks-deadline"] input, input[data-testid="missed-call-tasks-deadline"]').setValue('0');
    await wrapper.find('form').trigger('submit');
    await flushPromises();
    expect(wrapper.text()).toContain('Enter a number of hours from 1 to 720.');
    expect(seen.filter((r) => r.method === 'PUT')).toHaveLength(0);
  });
});

describe('Routing switch', () => {
  it('saves the routing part only', async () => {
    const { api, seen } = fakeApi({ 'GET /settings': ok(settingsFixture()), 'PUT /settings': ok(settingsFixture()) });
    const wrapper = mountWithApp(RoutingSection, api);
    await useSettingsStore().load();
    await flushPromises();
    await wrapper.find('form').trigger('submit');
    await flushPromises();
    expect(seen.find((r) => r.method === 'PUT')?.body).toEqual({ routing: { enabled: false } });
  });
});

describe('Activity: open missed-call tasks', () => {
  it('lists each open task with its number, task id and missed calls', async () => {
    const { api } = fakeApi({
      'GET /calls/recent': ok({ calls: [], nextBefore: null }),
      'GET /outbox/failed': ok([]),
      'GET /missed-call-tasks': ok([{ phone: '+14155550177', taskId: 42, responsibleId: 7, responsibleFrom: 'crm', title: 'Missed call from Carl', missedCalls: 2, createdAt: 0, deadline: 7_200_000 }]),
    });
    const wrapper = mountWithApp(ActivitySection, api);
    await useActivityStore().load();
    await flushPromises();
    const text = wrapper.find('[data-testid="missed-call-tasks"]').text();
    expect(text).toContain('+14155550177');
    expect(text).toContain('#42');
    expect(text).toContain('2 missed calls');
  });
});
