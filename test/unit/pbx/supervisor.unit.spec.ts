import { describe, expect, it } from 'vitest';
import type { CallEvent } from '../../../server/pbx/adapter.js';
import { createPbxSupervisor } from '../../../server/pbx/supervisor.js';
import { fakeAdapter, storeWithEnabledPortal, supervisorEnvironmentPerTest } from './fake-adapter.js';

const cdr = (id: string, at: number, result: 'answered' | 'missed'): CallEvent => ({
  portal: 'm1', pbxCallId: id, at, kind: 'cdr', direction: 'inbound', external: '555', extensions: [],
  cdr: { result, talkSeconds: result === 'answered' ? 10 : 0, callSeconds: 12 }, recovered: true,
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PBX supervisor gap recovery', () => {
  const environment = supervisorEnvironmentPerTest('pbx-sup-unit-');

  function setup() {
    const store = storeWithEnabledPortal();
    const fake = fakeAdapter();
    const delivered: CallEvent[] = [];
    const sup = createPbxSupervisor({
      store, ...environment.current(),
      createAdapter: () => fake.adapter, onCallEvent: (e) => {
        delivered.push(e);
      },
      coverageTickMs: 20, recoveryTailMs: 200, recoveryRetryMs: 50,
    });
    return { sup, store, fake, delivered };
  }

  it('the first link of a portal recovers nothing; a reconnect recovers, deduping calls already heard live', async () => {
    const { sup, fake, delivered } = setup();
    await sup.start();
    expect(fake.ctl.searches).toEqual([]);
    expect(sup.linksUp()).toBe(1);
    fake.ctl.emit(cdr('live-1', Date.now(), 'answered'));
    fake.ctl.setStatus({ state: 'unreachable', lastError: 'cut' });
    await sleep(50);
    fake.ctl.history = [cdr('live-1', Date.now() - 5_000, 'answered'), cdr('gap-1', Date.now() - 4_000, 'missed')];
    fake.ctl.setStatus({ state: 'connected' });
    await sleep(50);
    expect(delivered.map((e) => e.pbxCallId)).toEqual(['live-1', 'gap-1']);
    expect(delivered[1]?.recovered).toBe(true);
    await sup.stop();
  });

  it('a call that ended moments ago is left to the follow-up pass, so its complete legs are logged, once', async () => {
    const { sup, fake, delivered } = setup();
    await sup.start();
    fake.ctl.setStatus({ state: 'connecting' });
    fake.ctl.history = [cdr('fresh', Date.now(), 'missed')];
    fake.ctl.setStatus({ state: 'connected' });
    await sleep(50);
    expect(delivered).toEqual([]);
    fake.ctl.history = [cdr('fresh', Date.now() - 10, 'answered')];
    await sleep(400);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]).toMatchObject({ pbxCallId: 'fresh', cdr: { result: 'answered' } });
    expect(fake.ctl.searches.length).toBeGreaterThanOrEqual(2);
    await sleep(300);
    expect(delivered).toHaveLength(1);
    await sup.stop();
  });

  it('a failed recovery is retried while the link is up', async () => {
    const { sup, fake, delivered } = setup();
    await sup.start();
    let fail = true;
    const search = fake.adapter.searchCdr;
    fake.adapter.searchCdr = async (since) => {
      if (fail) {
        fail = false;
        throw new Error('PBX_UNREACHABLE: blip');
      }
      return search(since);
    };
    fake.ctl.history = [cdr('gap-2', Date.now() - 3_000, 'answered')];
    fake.ctl.setStatus({ state: 'connecting' });
    fake.ctl.setStatus({ state: 'connected' });
    await sleep(200);
    expect(delivered.map((e) => e.pbxCallId)).toEqual(['gap-2']);
    await sup.stop();
  });

  it('disabling closes the link and forgets the mark: re-enabling recovers nothing from the disabled period', async () => {
    const { sup, store, fake, delivered } = setup();
    await sup.start();
    const s = store.settings.get('m1');
    store.setSettings('m1', { ...s, enabled: false });
    await sup.reconcile('m1');
    expect(sup.status('m1').state).toBe('disabled');
    fake.ctl.history = [cdr('while-disabled', Date.now() - 3_000, 'answered')];
    fake.ctl.searches.length = 0;
    store.setSettings('m1', { ...s, enabled: true });
    await sup.reconcile('m1');
    await sleep(50);
    expect(fake.ctl.searches).toEqual([]);
    expect(delivered).toEqual([]);
    await sup.stop();
  });
});
