import { describe, expect, it } from 'vitest';
import { copyRecord } from '../../../server/store/copy.js';
import { paramsSize } from '../../../server/bitrix/coalesce.js';

/** Issue 14: the file store hands out copies that share strings (immutable) but never objects or arrays. */
describe('copyRecord', () => {
  it('copies objects and arrays at every depth, keeps undefined fields and shares nothing mutable', () => {
    const stored = { id: 'a', params: { FILE_CONTENT: 'x'.repeat(10), list: [1, { n: 2 }] }, lastError: undefined, meta: null };
    const out = copyRecord(stored);
    expect(out).toEqual(stored);
    expect('lastError' in out).toBe(true);
    expect(out.params).not.toBe(stored.params);
    expect(out.params.list).not.toBe(stored.params.list);
    expect(out.params.list[1]).not.toBe(stored.params.list[1]);
    (out.params.list[1] as { n: number }).n = 3;
    out.params.list.push(9);
    expect(stored.params.list).toEqual([1, { n: 2 }]);
  });

  it('falls back to structuredClone for anything but plain data', () => {
    const at = new Date(0);
    const out = copyRecord({ at, tags: new Set(['x']) });
    expect(out.at).not.toBe(at);
    expect(out.at.getTime()).toBe(0);
    expect([...out.tags]).toEqual(['x']);
  });
});

describe('paramsSize (merge limit without stringifying)', () => {
  it('is close to the JSON length of plain params', () => {
    const params = { CALL_ID: 'externalCall.1', FILE_CONTENT: 'A'.repeat(100_000), N: 12, ok: true, list: ['a', null] };
    const json = JSON.stringify(params).length;
    expect(Math.abs(paramsSize(params) - json)).toBeLessThan(32);
  });

  it('counts a cycle as too large instead of looping', () => {
    const a: Record<string, unknown> = { x: 1 };
    a.self = a;
    expect(paramsSize(a)).toBe(Number.POSITIVE_INFINITY);
    const shared = { v: 'y' };
    // The same object twice is not a cycle: counted twice, as JSON writes it twice.
    expect(Math.abs(paramsSize({ a: shared, b: shared }) - JSON.stringify({ a: shared, b: shared }).length)).toBeLessThan(8);
  });
});
