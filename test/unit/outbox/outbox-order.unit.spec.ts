import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BitrixError } from '../../../server/bitrix/types.js';
import { createOutbox } from '../../../server/outbox/index.js';
import { captureLog } from '../store/helpers.js';
import { portalStorePerTest } from './portal-store.js';
import { FakeBitrix } from './fake-bitrix.js';

/**
 * Property: whatever mix of whole-request failures (rate limit, network) and per-command retryable failures
 * Bitrix24 answers with, every write arrives exactly once and each group's writes arrive in the order enqueued.
 */
const P = 'm1';
const stores = portalStorePerTest(P);

describe('outbox delivery property', () => {
  it('exactly once, in order per group, under random failures', async () => {
    let round = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ group: fc.integer({ min: 0, max: 5 }), burst: fc.boolean() }), { minLength: 1, maxLength: 60 }),
        fc.array(fc.constantFrom('ok', 'ok', 'ok', 'limit', 'network', 'command'), { minLength: 1, maxLength: 30 }),
        async (writes, faults) => {
          round += 1;
          const b24 = new FakeBitrix();
          let fault = 0;
          // Each fault is answered once, in order; after them Bitrix24 is healthy, so the run ends.
          const nextFault = (): string => faults[fault++] ?? 'ok';
          b24.define('test.write', (p) => {
            // Sub-command (or lone call) failure: nothing executed, retryable.
            if (nextFault() === 'command') throw new BitrixError('INTERNAL_SERVER_ERROR', 'temporary', 500, true);
            return { n: p.n };
          });
          const wrapped = b24.forPortal(P);
          const clients = {
            requestCount: () => b24.requests,
            forPortal: () => ({
              ...wrapped,
              call: async <T,>(method: string, params?: Record<string, unknown>): Promise<T> => {
                const f = nextFault();
                if (f === 'limit') throw new BitrixError('QUERY_LIMIT_EXCEEDED', 'Too many requests', 503, true);
                if (f === 'network') throw new BitrixError('NETWORK_ERROR', 'socket hang up', 0, true);
                return wrapped.call<T>(method, params);
              },
              batch: async (...args: Parameters<typeof wrapped.batch>) => {
                const f = nextFault();
                if (f === 'limit') throw new BitrixError('QUERY_LIMIT_EXCEEDED', 'Too many requests', 503, true);
                if (f === 'network') throw new BitrixError('NETWORK_ERROR', 'socket hang up', 0, true);
                return wrapped.batch(...args);
              },
            }),
          };
          const outbox = createOutbox({ store: stores.current(), clients, log: captureLog().log, maxAttempts: 1000, backoff: () => 1 });
          outbox.start();
          try {
            const enqueued: Promise<unknown>[] = [];
            for (const [i, w] of writes.entries()) {
              const item = { portal: P, group: `r${round}-g${w.group}`, method: 'test.write', params: { n: `${round}-${i}` } };
              if (w.burst) enqueued.push(outbox.enqueue([item]));
              else await outbox.enqueue([item]);
            }
            await Promise.all(enqueued);
            await outbox.idle(P, 20_000);
          } finally {
            await outbox.stop();
          }
          const seen = b24.executed('test.write').map((r) => String(r.params.n));
          expect([...seen].sort()).toEqual(writes.map((_, i) => `${round}-${i}`).sort());
          const groupOf = new Map(writes.map((w, i) => [`${round}-${i}`, w.group]));
          for (let g = 0; g <= 5; g += 1) {
            const arrived = seen.filter((n) => groupOf.get(n) === g);
            // Concurrent enqueues take their seq in call order, so array order is the enqueue order.
            const expected = writes.flatMap((w, i) => (w.group === g ? [`${round}-${i}`] : []));
            expect(arrived).toEqual(expected);
          }
        },
      ),
      { numRuns: 25 },
    );
  }, 60_000);
});
