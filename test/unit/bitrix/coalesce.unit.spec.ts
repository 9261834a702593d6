import { describe, expect, it, vi } from 'vitest';
import { PortalCoalescer, TokenBucket, type DirectSender } from '../../../server/bitrix/coalesce.js';
import { BitrixError, type BatchCommand, type BatchResult } from '../../../server/bitrix/types.js';

/** A direct sender whose answers the test releases one request at a time; each entry of `sent` is one HTTP request. */
function heldSender() {
  const sent: { kind: 'call' | 'batch'; methods: string[]; keys: string[]; halt?: boolean }[] = [];
  const held: (() => void)[] = [];
  const hold = <T>(value: () => T): Promise<T> => new Promise((resolve, reject) => {
    held.push(() => {
      try {
        resolve(value());
      } catch (err) {
        reject(err);
      }
    });
  });
  const answerOf = (method: string, params: Record<string, unknown>) => {
    if (method === 'refuse') throw new BitrixError('ERROR_CORE', 'refused', 400, false);
    return { method, echo: params.n };
  };
  const direct: DirectSender = {
    call: (method, params) => {
      sent.push({ kind: 'call', methods: [method], keys: [] });
      return hold(() => answerOf(method, params));
    },
    batch: (commands: BatchCommand[], halt: boolean) => {
      sent.push({ kind: 'batch', methods: commands.map((c) => c.method), keys: commands.map((c) => c.key), halt });
      return hold(() => {
        const out: BatchResult = { results: {}, errors: {} };
        for (const c of commands) {
          if (c.method === 'refuse') out.errors[c.key] = { error: 'ERROR_CORE', description: 'refused' };
          else out.results[c.key] = { method: c.method, echo: c.params.n };
        }
        return out;
      });
    },
  };
  const releaseAll = async () => {
    for (let i = 0; i < 100 && held.length > 0; i += 1) {
      held.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
  };
  return { direct, sent, releaseAll };
}

describe('portal request coalescing', () => {
  it('sends a lone call as itself at once; what arrives meanwhile goes in ONE batch, each caller getting its answer', async () => {
    const { direct, sent, releaseAll } = heldSender();
    const c = new PortalCoalescer(direct, 50, () => undefined, 1);
    const first = c.call('crm.duplicate.findbycomm', { n: 1 });
    const second = c.call('telephony.externalCall.register', { n: 2 });
    const outbox = c.batch([{ key: 'c0', method: 'telephony.externalCall.finish', params: { n: 3 } }, { key: 'c1', method: 'refuse', params: {} }], false);
    const third = c.call('refuse', {});
    const refused = third.catch((err: unknown) => err);
    expect(sent).toEqual([{ kind: 'call', methods: ['crm.duplicate.findbycomm'], keys: [] }]);
    await releaseAll();
    expect(await first).toEqual({ method: 'crm.duplicate.findbycomm', echo: 1 });
    expect(await second).toEqual({ method: 'telephony.externalCall.register', echo: 2 });
    expect(await outbox).toEqual({
      results: { c0: { method: 'telephony.externalCall.finish', echo: 3 } },
      errors: { c1: { error: 'ERROR_CORE', description: 'refused' } },
    });
    expect(await refused).toBeInstanceOf(BitrixError);
    expect(sent).toHaveLength(2);
    expect(sent[1]).toMatchObject({ kind: 'batch', halt: false, methods: ['telephony.externalCall.register', 'telephony.externalCall.finish', 'refuse', 'refuse'] });
    expect(sent[1]?.keys.slice(1, 3)).toEqual(['c0', 'c1']);
  });

  it('never merges past 50 commands or 8 MB, nor batches with clashing keys or halting ones', async () => {
    const { direct, sent, releaseAll } = heldSender();
    const c = new PortalCoalescer(direct, 50, () => undefined, 1);
    const jobs: Promise<unknown>[] = [c.call('first', {})];
    for (let i = 0; i < 60; i += 1) jobs.push(c.call('m', { n: i }));
    jobs.push(c.batch([{ key: 'c0', method: 'a', params: {} }], false));
    jobs.push(c.batch([{ key: 'c0', method: 'b', params: {} }], false));
    jobs.push(c.batch([{ key: 'h0', method: 'h', params: {} }], true));
    jobs.push(c.call('telephony.externalCall.attachRecord', { FILE_CONTENT: 'x'.repeat(70_000) }));
    jobs.push(c.call('telephony.externalCall.attachRecord', { FILE_CONTENT: 'y'.repeat(8.5 * 1024 * 1024) }));
    await releaseAll();
    await Promise.all(jobs);
    expect(sent.map((s) => s.methods.length)).toEqual([1, 50, 12, 1, 1, 1]);
    expect(sent[2]?.methods.slice(-2)).toEqual(['a', 'telephony.externalCall.attachRecord']);
    expect(sent.slice(3).map((s) => s.methods[0])).toEqual(['b', 'h', 'telephony.externalCall.attachRecord']);
    expect(sent[4]?.halt).toBe(true);
  });

  it('fails every merged caller when the request fails as a whole, and goes on with the next', async () => {
    let fail = true;
    const base = heldSender();
    const direct: DirectSender = {
      call: base.direct.call,
      batch: (commands, halt) => {
        if (fail) {
          fail = false;
          return Promise.reject(new BitrixError('QUERY_LIMIT_EXCEEDED', 'too many', 503, true));
        }
        return base.direct.batch(commands, halt);
      },
    };
    const c = new PortalCoalescer(direct, 50, () => undefined, 1);
    const lone = c.call('a', {});
    const merged = [c.call('b', {}).catch((e: unknown) => e), c.call('c', {}).catch((e: unknown) => e)];
    await base.releaseAll();
    await lone;
    const errors = await Promise.all(merged);
    expect(errors.map((e) => (e instanceof BitrixError ? e.code : 'none'))).toEqual(['QUERY_LIMIT_EXCEEDED', 'QUERY_LIMIT_EXCEEDED']);
    const later = c.call('d', { n: 4 });
    await base.releaseAll();
    expect(await later).toEqual({ method: 'd', echo: 4 });
    expect(c.waiting).toBe(0);
  });

  it('keeps two requests out at once by default, merging what waits behind them', async () => {
    const { direct, sent, releaseAll } = heldSender();
    const c = new PortalCoalescer(direct);
    const jobs = [c.call('a', {}), c.call('b', {}), c.call('c', {}), c.call('d', {})];
    expect(sent.map((s) => s.methods)).toEqual([['a'], ['b']]);
    await releaseAll();
    await Promise.all(jobs);
    expect(sent.map((s) => s.methods)).toEqual([['a'], ['b'], ['c', 'd']]);
  });
});

describe('token bucket of the coalescer', () => {
  it('admits a burst, then one per 1/rate seconds; a group formed after the wait carries what arrived during it', async () => {
    let clock = 0;
    const bucket = new TokenBucket(2, 2, () => clock);
    expect(bucket.waitMs()).toBe(0);
    bucket.take();
    bucket.take();
    expect(bucket.waitMs()).toBe(500);
    clock += 250;
    expect(bucket.waitMs()).toBe(250);
    clock += 250;
    expect(bucket.waitMs()).toBe(0);
  });

  it('waits for a token before forming the group', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const { direct, sent, releaseAll } = heldSender();
      const c = new PortalCoalescer(direct, 50, () => undefined, 1, new TokenBucket(1, 2, () => Date.now()));
      const jobs = [c.call('a', {}), c.call('b', {})];
      expect(sent.map((s) => s.methods)).toEqual([['a']]);
      await releaseAll();
      await jobs[0];
      jobs.push(c.call('c', {}));
      await vi.advanceTimersByTimeAsync(100);
      jobs.push(c.call('d', {}));
      expect(sent).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(450);
      expect(sent.map((s) => s.methods)).toEqual([['a'], ['b', 'c', 'd']]);
      await releaseAll();
      await Promise.all(jobs);
    } finally {
      vi.useRealTimers();
    }
  });

  it('two waiters woken by one refill never both take the last token', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const bucket = new TokenBucket(1, 2, () => Date.now());
      bucket.take();
      const got: number[] = [];
      const start = Date.now();
      const waits = [bucket.acquire().then(() => got.push(Date.now() - start)), bucket.acquire().then(() => got.push(Date.now() - start))];
      await vi.advanceTimersByTimeAsync(500);
      expect(got).toEqual([500]);
      await vi.advanceTimersByTimeAsync(500);
      await Promise.all(waits);
      expect(got).toEqual([500, 1000]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a request admitted on its own (a list page) spends a token of the same bucket as the groups', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const { direct, sent, releaseAll } = heldSender();
      const c = new PortalCoalescer(direct, 50, () => undefined, 1, new TokenBucket(1, 2, () => Date.now()));
      await c.admit();
      const job = c.call('a', {});
      // The list page took the only token: the call waits for the next one.
      expect(sent).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(499);
      expect(sent).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(2);
      expect(sent.map((s) => s.methods)).toEqual([['a']]);
      await releaseAll();
      await job;
    } finally {
      vi.useRealTimers();
    }
  });
});
