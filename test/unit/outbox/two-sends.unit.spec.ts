import { describe, expect, it } from 'vitest';
import { createOutbox } from '../../../server/outbox/index.js';
import type { BitrixClients } from '../../../server/bitrix/types.js';
import { captureLog } from '../store/helpers.js';
import { portalStorePerTest } from './portal-store.js';
import { FakeBitrix } from './fake-bitrix.js';

/** While one send is out, new items of other groups go in a second one; a group's items stay in order. */
const P = 'm1';
const stores = portalStorePerTest(P);

describe('outbox: two sends out', () => {
  it('sends another group while the first send is out, and holds the first group until it is answered', async () => {
    const b24 = new FakeBitrix();
    const started: number[] = [];
    const holds: (() => void)[] = [];
    // Every request waits until the test lets it through; `started` shows what was out at once.
    const clients: BitrixClients = {
      requestCount: () => b24.requests,
      forPortal: (memberId) => {
        const inner = b24.forPortal(memberId);
        const held = async <T>(n: number, run: () => Promise<T>): Promise<T> => {
          started.push(n);
          await new Promise<void>((r) => holds.push(r));
          return run();
        };
        return {
          memberId,
          list: inner.list,
          call: (method, params = {}) => held(Number(params.n), () => inner.call(method, params)),
          batch: (commands, halt) => held(commands.length * 100, () => inner.batch(commands, halt)),
        };
      },
    };
    const outbox = createOutbox({ store: stores.current(), clients, log: captureLog().log, maxAttempts: 5, backoff: () => 5 });
    outbox.start();
    const tick = () => new Promise((r) => setTimeout(r, 20));
    await outbox.enqueue([{ portal: P, group: 'A', method: 'test.write', params: { n: 1 }, id: 'a1' }]);
    await tick();
    await outbox.enqueue([
      { portal: P, group: 'A', method: 'test.write', params: { n: 2 }, id: 'a2' },
      { portal: P, group: 'B', method: 'test.write', params: { n: 3 }, id: 'b1' },
    ]);
    await tick();
    // a1 is out; b1 went in a second send beside it; a2 waits for a1.
    expect(started).toEqual([1, 3]);
    for (let i = 0; i < 10 && (holds.length > 0 || started.length < 3); i += 1) {
      holds.splice(0).forEach((release) => release());
      await tick();
    }
    await outbox.idle(P, 2000);
    await outbox.stop();
    expect(started).toEqual([1, 3, 2]);
    expect(b24.executed().map((r) => r.params.n)).toEqual([1, 3, 2]);
    for (const id of ['a1', 'a2', 'b1']) expect(stores.current().outbox.get(id)?.status).toBe('done');
  });
});
