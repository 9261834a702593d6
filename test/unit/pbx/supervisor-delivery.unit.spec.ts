import { describe, expect, it } from 'vitest';
import type { CallEvent } from '../../../server/pbx/adapter.js';
import { createPbxSupervisor } from '../../../server/pbx/supervisor.js';
import { fakeAdapter, storeWithEnabledPortal, supervisorEnvironmentPerTest } from './fake-adapter.js';

const event = (id: string, kind: CallEvent['kind']): CallEvent => ({
  portal: 'm1', pbxCallId: id, at: Date.now(), kind, direction: 'inbound', external: '+15550001111', extensions: [],
});

/**
 * Delivery of live events: each handed on at once, in the order the link heard them. The supervisor orders nothing
 * per call — the calls service owns a call's order (issue 15 point 3; test/unit/calls/call-order.unit.spec.ts shows
 * one call's events in sequence and calls side by side through both) — so a slow handler holds nothing else here.
 */
describe('PBX supervisor delivery of live events', () => {
  const environment = supervisorEnvironmentPerTest('pbx-sup-delivery-');

  it('hands every event on at once, in the order heard, and stops only once the handlers in progress are done', async () => {
    const store = storeWithEnabledPortal();
    const fake = fakeAdapter();
    const log: string[] = [];
    const release = new Map<string, () => void>();
    const sup = createPbxSupervisor({
      store, ...environment.current(),
      createAdapter: () => fake.adapter,
      onCallEvent: async (e) => {
        log.push(`start ${e.pbxCallId} ${e.kind}`);
        // Call A's ringing handler is slow (held until released); everything else is quick.
        if (e.pbxCallId === 'A' && e.kind === 'ringing') await new Promise<void>((r) => release.set('A', r));
        log.push(`end ${e.pbxCallId} ${e.kind}`);
      },
      coverageTickMs: 60_000,
    });
    await sup.start();
    fake.ctl.emit(event('A', 'ringing'));
    fake.ctl.emit(event('A', 'answered'));
    fake.ctl.emit(event('B', 'ringing'));
    // Every handler started as its event was heard; only A's ringing is still in progress.
    expect(log).toEqual(['start A ringing', 'start A answered', 'end A answered', 'start B ringing', 'end B ringing']);
    const stopping = sup.stop().then(() => { log.push('stopped'); });
    // Time enough for the rest of stop (disconnect, the marks file written) to finish were it not waiting for A; a
    // busier machine only makes the check weaker, never false.
    await Promise.race([stopping, new Promise((r) => setTimeout(r, 500))]);
    release.get('A')?.();
    await stopping;
    expect(log.slice(-2)).toEqual(['end A ringing', 'stopped']);
  });
});
