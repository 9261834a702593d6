import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createOutbox } from '../../../server/outbox/index.js';
import { ref, type NewOutboxItem } from '../../../server/outbox/types.js';
import { openStore } from '../../../server/store/index.js';
import type { OutboxItem } from '../../../server/store/records.js';
import type { Store } from '../../../server/store/types.js';
import { BitrixError } from '../../../server/bitrix/types.js';
import { captureLog, makePortal, tempDir, TEST_KEY } from '../store/helpers.js';
import { FakeBitrix } from './fake-bitrix.js';

const P = 'm1';
let dir: string;
let cleanup: () => Promise<void>;
let store: Store;
const toStop: { stop(): Promise<void> }[] = [];

async function reopen(): Promise<Store> {
  store = await openStore({ dataDir: dir, secretKey: TEST_KEY, log: captureLog().log });
  return store;
}

function outboxOver(clients: FakeBitrix, extra: Partial<Parameters<typeof createOutbox>[0]> = {}) {
  const outbox = createOutbox({ store, clients, log: captureLog().log, maxAttempts: 5, backoff: () => 5, ...extra });
  toStop.push(outbox);
  return outbox;
}

const write = (n: number, group = 'g', extra: Partial<NewOutboxItem> = {}): NewOutboxItem =>
  ({ portal: P, group, method: 'test.write', params: { n }, ...extra });

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
  await reopen();
  await store.portals.put(makePortal(P));
});

afterEach(async () => {
  for (const o of toStop.splice(0)) await o.stop();
  await store.close();
  await cleanup();
});

describe('outbox sending', () => {
  it('sends a lone item at once with call (no batch, no timer) and hands the result to its handler', async () => {
    const b24 = new FakeBitrix();
    const outbox = outboxOver(b24, { backoff: () => 60_000 });
    const results: unknown[] = [];
    outbox.onResult('calls.registered', (item, result) => {
      results.push([item.id, result]);
    });
    outbox.start();
    const [item] = await outbox.enqueue([{ portal: P, group: 'call:1', method: 'telephony.externalCall.register', params: { EXTERNAL_CALL_ID: 'x1' }, id: 'reg-1', onDone: 'calls.registered' }]);
    await outbox.idle(P, 2000);
    expect(item?.status).toBe('pending');
    expect(b24.executed().map((r) => [r.method, r.via])).toEqual([['telephony.externalCall.register', 'call']]);
    expect(results).toEqual([['reg-1', { CALL_ID: 'CALL-1', EXTERNAL_CALL_ID: 'x1' }]]);
    expect(store.outbox.get('reg-1')?.status).toBe('done');
    expect(outbox.stats(P)).toEqual({ pending: 0, failed: 0, sentRequests: 1 });
  });

  it('enqueue is idempotent by key', async () => {
    const b24 = new FakeBitrix();
    const outbox = outboxOver(b24);
    outbox.start();
    await outbox.enqueue([write(1, 'g', { key: 'k1' })]);
    await outbox.enqueue([write(1, 'g', { key: 'k1' })]);
    await outbox.idle(P, 2000);
    await outbox.enqueue([write(1, 'g', { key: 'k1' })]);
    await outbox.idle(P, 2000);
    expect(b24.executed()).toHaveLength(1);
  });

  it('delivers 100 writes made during a QUERY_LIMIT_EXCEEDED period exactly once, in batches of at most 50', async () => {
    const b24 = new FakeBitrix();
    b24.rateLimitedRequests = 4;
    const outbox = outboxOver(b24);
    outbox.start();
    await Promise.all(Array.from({ length: 100 }, (_, i) => outbox.enqueue([write(i, `g${i % 50}`)])));
    await outbox.idle(P, 10_000);
    const seen = b24.executed('test.write').map((r) => r.params.n);
    expect(seen).toHaveLength(100);
    expect(new Set(seen).size).toBe(100);
    expect(Math.max(...b24.batchSizes)).toBeLessThanOrEqual(50);
    expect(b24.requests).toBeLessThan(20);
    expect(outbox.stats(P)).toMatchObject({ pending: 0, failed: 0, sentRequests: b24.requests });
    // Rate limiting is the portal's state, not the items' fault: no attempt was spent on it.
    expect(store.outbox.pending(P)).toEqual([]);
  });

  it('packs a deep queue into batches of at most 50 commands', async () => {
    const b24 = new FakeBitrix();
    let release: () => void = () => undefined;
    b24.gate = new Promise((r) => (release = r));
    const outbox = outboxOver(b24);
    outbox.start();
    await outbox.enqueue([write(0, 'first')]);
    await outbox.enqueue(Array.from({ length: 120 }, (_, i) => write(i + 1, `g${i}`)));
    release();
    b24.gate = undefined;
    await outbox.idle(P, 5000);
    expect(b24.executed('test.write')).toHaveLength(121);
    // The three sends wait for the gate together, so they may land in any order.
    expect([...b24.batchSizes].sort((a, b) => b - a)).toEqual([50, 50, 20]);
    expect(b24.requests).toBe(4);
  });

  it('keeps order within a group across failures, and one group never holds another', async () => {
    const b24 = new FakeBitrix();
    let failuresLeft = 3;
    b24.define('slow.write', (p) => {
      if (failuresLeft > 0) {
        failuresLeft -= 1;
        throw new BitrixError('INTERNAL_SERVER_ERROR', 'try later', 500, true);
      }
      return { n: p.n };
    });
    const outbox = outboxOver(b24);
    outbox.start();
    await outbox.enqueue([
      { portal: P, group: 'a', method: 'slow.write', params: { n: 'a1' } },
      write(2, 'a'), write(3, 'a'),
      write(10, 'b'), write(11, 'b'),
    ]);
    await outbox.idle(P, 5000);
    const order = b24.executed().map((r) => r.params.n);
    const groupA = order.filter((n) => n === 'a1' || n === 2 || n === 3);
    expect(groupA).toEqual(['a1', 2, 3]);
    // b was delivered while a was still backing off.
    expect(order.indexOf(10)).toBeLessThan(order.indexOf('a1'));
    expect(order.indexOf(10)).toBeLessThan(order.indexOf(11));
  });

  it('resolves a reference inside one batch as $result[...] and from the stored result in a later send', async () => {
    const b24 = new FakeBitrix();
    let release: () => void = () => undefined;
    b24.gate = new Promise((r) => (release = r));
    const outbox = outboxOver(b24);
    outbox.start();
    await outbox.enqueue([write(0, 'other')]);
    await outbox.enqueue([
      { portal: P, group: 'call:1', id: 'r1', method: 'telephony.externalCall.register', params: { EXTERNAL_CALL_ID: 'e1' } },
      { portal: P, group: 'call:1', method: 'telephony.externalCall.finish', params: { CALL_ID: ref('r1', 'CALL_ID'), DURATION: 5 } },
    ]);
    release();
    b24.gate = undefined;
    await outbox.idle(P, 5000);
    const finish = b24.executed('telephony.externalCall.finish');
    expect(finish).toHaveLength(1);
    expect(finish[0]?.via).toBe('batch');
    expect(finish[0]?.params.CALL_ID).toBe('CALL-1');
    expect(b24.requests).toBe(2);

    // Later: the register is done, so its stored result fills the reference of a lone call.
    await outbox.enqueue([{ portal: P, group: 'call:1', method: 'telephony.externalCall.finish', params: { CALL_ID: ref('r1', 'CALL_ID'), DURATION: 6 } }]);
    await outbox.idle(P, 2000);
    const second = b24.executed('telephony.externalCall.finish')[1];
    expect(second?.via).toBe('call');
    expect(second?.params).toEqual({ CALL_ID: 'CALL-1', DURATION: 6 });
  });
});

describe('parking', () => {
  it('parks a non-retryable item and the items that reference it; the rest of the group goes on', async () => {
    const b24 = new FakeBitrix();
    b24.define('telephony.externalCall.register', () => {
      throw new BitrixError('ERROR_CORE', 'USER_ID is not valid', 400, false);
    });
    const outbox = outboxOver(b24);
    const parkedNotes: [string, string][] = [];
    outbox.onParked('calls.registerParked', (item, error) => {
      parkedNotes.push([item.id, error]);
    });
    outbox.onParked('calls.finishParked', (item, error) => {
      parkedNotes.push([item.id, error]);
    });
    outbox.start();
    await outbox.enqueue([
      { portal: P, group: 'call:1', id: 'reg', method: 'telephony.externalCall.register', params: {}, onFailed: 'calls.registerParked' },
      { portal: P, group: 'call:1', id: 'fin', method: 'telephony.externalCall.finish', params: { CALL_ID: ref('reg', 'CALL_ID') }, onFailed: 'calls.finishParked' },
      { portal: P, group: 'call:1', id: 'note', method: 'test.write', params: { n: 'independent' } },
    ]);
    await outbox.idle(P, 5000);
    expect(b24.executed('test.write').map((r) => r.params.n)).toEqual(['independent']);
    expect(b24.executed('telephony.externalCall.finish')).toEqual([]);
    const failed = outbox.failed(P);
    expect(failed.map((i) => i.id)).toEqual(['reg', 'fin']);
    expect(failed[0]?.lastError).toContain('USER_ID is not valid');
    expect(failed[1]?.lastError).toMatch(/^DEPENDENCY_FAILED: .*outbox item reg/);
    expect(parkedNotes.map(([id]) => id).sort()).toEqual(['fin', 'reg']);
    expect(outbox.stats(P)).toMatchObject({ pending: 0, failed: 2 });

    // The admin fixes the cause and presses retry on the register: its dependant comes back too.
    b24.define('telephony.externalCall.register', () => ({ CALL_ID: 'CALL-77' }));
    await outbox.retry(P, 'reg');
    await outbox.idle(P, 5000);
    expect(outbox.failed(P)).toEqual([]);
    expect(b24.executed('telephony.externalCall.finish')[0]?.params.CALL_ID).toBe('CALL-77');
    await expect(outbox.retry(P, 'reg')).rejects.toThrow(/OUTBOX_NOT_PARKED/);
    await expect(outbox.retry(P, 'nope')).rejects.toThrow(/NOT_FOUND/);
  });

  it('parks after maxAttempts retryable failures, with the last error and the attempt count', async () => {
    const b24 = new FakeBitrix();
    b24.define('down.write', () => {
      throw new BitrixError('INTERNAL_SERVER_ERROR', 'Service unavailable', 500, true);
    });
    const outbox = outboxOver(b24, { maxAttempts: 3 });
    outbox.start();
    await outbox.enqueue([{ portal: P, group: 'g', id: 'x', method: 'down.write', params: {} }]);
    await outbox.idle(P, 5000);
    const [item] = outbox.failed(P);
    expect(item?.attempts).toBe(3);
    expect(item?.lastError).toMatch(/INTERNAL_SERVER_ERROR.*gave up after 3 attempts/);
    expect(b24.requests).toBe(3);
  });

  it('retries only the failed sub-commands of a batch', async () => {
    const b24 = new FakeBitrix();
    let flaky = 1;
    b24.define('flaky.write', (p) => {
      if (flaky > 0) {
        flaky -= 1;
        throw new BitrixError('OPERATION_TIME_LIMIT', 'Method is blocked due to operation time limit', 429, true);
      }
      return { n: p.n };
    });
    let release: () => void = () => undefined;
    b24.gate = new Promise((r) => (release = r));
    const outbox = outboxOver(b24, { operationLimitBackoff: () => 20 });
    outbox.start();
    await outbox.enqueue([write(0, 'z')]);
    await outbox.enqueue([write(1, 'a'), { portal: P, group: 'b', method: 'flaky.write', params: { n: 2 } }, write(3, 'c')]);
    release();
    b24.gate = undefined;
    await outbox.idle(P, 5000);
    const counts = new Map<unknown, number>();
    for (const r of b24.executed()) counts.set(r.params.n, (counts.get(r.params.n) ?? 0) + 1);
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
    expect(counts.size).toBe(4);
  });
});

describe('handlers, restart and reinstall', () => {
  it('a throwing handler is logged and the queue goes on', async () => {
    const b24 = new FakeBitrix();
    const outbox = outboxOver(b24);
    outbox.onResult('boom', () => {
      throw new Error('handler bug');
    });
    outbox.start();
    await outbox.enqueue([write(1, 'g', { onDone: 'boom' })]);
    await outbox.idle(P, 2000);
    await outbox.enqueue([write(2, 'g', { onDone: 'boom' }), write(3, 'h')]);
    await outbox.idle(P, 2000);
    expect(b24.executed().map((r) => r.params.n)).toEqual([1, 2, 3]);
    expect(store.outbox.undelivered()).toEqual([]);
  });

  it('resumes pending items after a restart (new outbox over the same data dir) in seq order, results reach the new handlers', async () => {
    const down = new FakeBitrix();
    down.networkDownRequests = 1000;
    const first = outboxOver(down, { maxAttempts: 1000 });
    first.start();
    await first.enqueue([
      { portal: P, group: 'call:1', id: 'reg', method: 'telephony.externalCall.register', params: {}, onDone: 'calls.registered' },
      { portal: P, group: 'call:1', method: 'telephony.externalCall.finish', params: { CALL_ID: ref('reg', 'CALL_ID') } },
      write(3, 'g2'),
    ]);
    await new Promise((r) => setTimeout(r, 50));
    await first.stop();
    expect(store.outbox.pending(P)).toHaveLength(3);
    await store.close();

    await reopen();
    const up = new FakeBitrix();
    const second = outboxOver(up);
    const told: unknown[] = [];
    second.onResult('calls.registered', (_item, result) => {
      told.push(result);
    });
    second.start();
    await second.idle(P, 5000);
    expect(up.executed().map((r) => r.method)).toEqual(['telephony.externalCall.register', 'telephony.externalCall.finish', 'test.write']);
    expect(up.executed('telephony.externalCall.finish')[0]?.params.CALL_ID).toBe('CALL-1');
    expect(told).toEqual([{ CALL_ID: 'CALL-1', EXTERNAL_CALL_ID: undefined }]);
  });

  it('re-tells a handler at start when the result was stored but the handler was not told before the crash', async () => {
    const stored: OutboxItem = {
      id: 'done-1', portal: P, group: 'g', seq: store.outbox.nextSeq(), method: 'test.write', params: {}, onDone: 'h',
      status: 'done', result: { ok: 1 }, attempts: 1, nextAttemptAt: 0, createdAt: 1, doneAt: Date.now(),
    };
    await store.outbox.append([stored]);
    const outbox = outboxOver(new FakeBitrix());
    const told: unknown[] = [];
    outbox.onResult('h', (_i, r) => {
      told.push(r);
    });
    outbox.start();
    await new Promise((r) => setTimeout(r, 50));
    expect(told).toEqual([{ ok: 1 }]);
    expect(store.outbox.get('done-1')?.delivered).toBe(true);
  });

  it('does not work a portal that needs a reinstall; resume() after the reinstall sends', async () => {
    await store.portals.update(P, { needsReinstall: { at: 1, reason: 'invalid_grant' } });
    const b24 = new FakeBitrix();
    const outbox = outboxOver(b24, { reinstallRecheckMs: 60_000 });
    outbox.start();
    await outbox.enqueue([write(1)]);
    await expect(outbox.idle(P, 100)).rejects.toThrow(/OUTBOX_NOT_IDLE/);
    expect(b24.requests).toBe(0);
    expect(outbox.stats(P).pending).toBe(1);
    await store.portals.update(P, { needsReinstall: undefined });
    outbox.resume(P);
    await outbox.idle(P, 2000);
    expect(b24.executed()).toHaveLength(1);
  });
});

describe('handlers registered after start()', () => {
  it('are told about results that arrived before they registered', async () => {
    const b24 = new FakeBitrix();
    const outbox = outboxOver(b24);
    outbox.start();
    await outbox.enqueue([{ portal: P, group: 'call:9', method: 'telephony.externalCall.register', params: {}, onDone: 'late.handler' }]);
    await outbox.idle(P, 2000);
    expect(store.outbox.undelivered()).toHaveLength(1);
    const told: unknown[] = [];
    outbox.onResult('late.handler', (_i, r) => {
      told.push(r);
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(told).toEqual([{ CALL_ID: 'CALL-1', EXTERNAL_CALL_ID: undefined }]);
    expect(store.outbox.undelivered()).toEqual([]);
  });
});

describe('answers that must not make the worker spin', () => {
  it('PORTAL_NEEDS_REINSTALL without the portal flagged pauses the portal instead of resending at once', async () => {
    const b24 = new FakeBitrix();
    b24.define('test.write', () => {
      throw new BitrixError('PORTAL_NEEDS_REINSTALL', 'invalid_grant', 401, false);
    });
    const outbox = outboxOver(b24, { reinstallRecheckMs: 60_000 });
    outbox.start();
    await outbox.enqueue([write(1)]);
    await new Promise((r) => setTimeout(r, 150));
    expect(b24.requests).toBe(1);
    expect(outbox.stats(P)).toMatchObject({ pending: 1, failed: 0 });
    b24.define('test.write', (p) => ({ n: p.n }));
    outbox.resume(P);
    await outbox.idle(P, 2000);
    expect(b24.executed('test.write')).toHaveLength(1);
  });

  it('a batch answer with neither result nor error for a command spends an attempt and is retried', async () => {
    const b24 = new FakeBitrix();
    const real = b24.forPortal(P);
    const clients = {
      requestCount: () => b24.requests,
      forPortal: () => ({
        ...real,
        batch: async (...args: Parameters<typeof real.batch>) => {
          const answer = await real.batch(...args);
          // The second command's key (each send of the worker has its own key prefix).
          const secondKey = args[0][1]?.key ?? '';
          delete answer.results[secondKey];
          return answer;
        },
      }),
    };
    const outbox = createOutbox({ store, clients, log: captureLog().log, maxAttempts: 3, backoff: () => 1 });
    toStop.push(outbox);
    outbox.start();
    const [, second] = await outbox.enqueue([write(1, 'a'), write(2, 'b')]);
    await outbox.idle(P, 5000);
    // The batch left the second command out; it went again on its own (a lone call) and arrived once.
    expect(store.outbox.get(second?.id ?? '')).toMatchObject({ status: 'done', attempts: 2 });
    expect(b24.requests).toBe(2);
  });
});
