import { describe, expect, it } from 'vitest';
import { createOutbox } from '../../../server/outbox/index.js';
import { captureLog } from '../store/helpers.js';
import { portalStorePerTest } from './portal-store.js';
import { FakeBitrix } from './fake-bitrix.js';

/**
 * `idle` means every send of the portal is answered and handled: a send still out (its items already stored as done,
 * its handlers still running) must not count as idle, or a shutdown or a test reads the state before the handlers wrote it.
 */
const P = 'm1';
const stores = portalStorePerTest(P);

const tick = (ms = 10) => new Promise((r) => setTimeout(r, ms));

describe('outbox idle', () => {
  it('does not report idle while a send is out, even once its items are stored as done', async () => {
    const b24 = new FakeBitrix();
    const outbox = createOutbox({ store: stores.current(), clients: b24, log: captureLog().log, maxAttempts: 5, backoff: () => 5 });
    let releaseHandler: () => void = () => undefined;
    const handlerGate = new Promise<void>((r) => { releaseHandler = r; });
    const handled: string[] = [];
    outbox.onResult('slow', async (item) => {
      await handlerGate;
      handled.push(item.id);
    });
    outbox.start();
    try {
      await outbox.enqueue([{ portal: P, group: 'g', method: 'test.write', params: { n: 1 }, id: 'a', onDone: 'slow' }]);
      for (let i = 0; i < 50 && stores.current().outbox.get('a')?.status !== 'done'; i += 1) await tick();
      expect(stores.current().outbox.get('a')?.status).toBe('done');
      let idle = false;
      const waiting = outbox.idle(P, 2000).then(() => { idle = true; });
      await tick(30);
      // The send's handler has not finished: not idle yet.
      expect(idle).toBe(false);
      releaseHandler();
      await waiting;
      expect(handled).toEqual(['a']);
    } finally {
      releaseHandler();
      await outbox.stop();
    }
  });

  it('stop() waits for every send that is out', async () => {
    const b24 = new FakeBitrix();
    let open: () => void = () => undefined;
    b24.gate = new Promise<void>((r) => { open = r; });
    const outbox = createOutbox({ store: stores.current(), clients: b24, log: captureLog().log, maxAttempts: 5, backoff: () => 5 });
    outbox.start();
    for (let g = 0; g < 6; g += 1) {
      await outbox.enqueue([{ portal: P, group: `g${g}`, method: 'test.write', params: { n: g }, id: `i${g}` }]);
      await tick(2);
    }
    let stopped = false;
    const stopping = outbox.stop().then(() => { stopped = true; });
    await tick(20);
    expect(stopped).toBe(false);
    open();
    await stopping;
    // Whatever went out was answered and stored before stop() returned; nothing is left half-sent.
    const executed = new Set(b24.executed().map((r) => String(r.params.n)));
    for (let g = 0; g < 6; g += 1) {
      const status = stores.current().outbox.get(`i${g}`)?.status;
      expect(status === 'done').toBe(executed.has(String(g)));
    }
  });
});
