import { describe, expect, it } from 'vitest';
import { BULK_CHARS, deliverByGroup, withoutBulk } from '../../../server/outbox/worker.js';
import type { OutboxItem } from '../../../server/store/records.js';

const item = (id: string, group: string): OutboxItem => ({ id, group } as unknown as OutboxItem);

describe('handing done items to their handlers', () => {
  it('keeps a group in order and runs groups side by side', async () => {
    const log: string[] = [];
    const release = new Map<string, () => void>();
    const run = deliverByGroup([item('a1', 'A'), item('b1', 'B'), item('a2', 'A')], async (i) => {
      log.push(`start ${i.id}`);
      if (i.id === 'a1') await new Promise<void>((r) => release.set('a1', r));
      log.push(`end ${i.id}`);
    });
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(['start a1', 'start b1', 'end b1']);
    release.get('a1')?.();
    await run;
    expect(log).toEqual(['start a1', 'start b1', 'end b1', 'end a1', 'start a2', 'end a2']);
  });

  it('lets every group finish before reporting a failure', async () => {
    const seen: string[] = [];
    await expect(deliverByGroup([item('x', 'X'), item('y', 'Y')], async (i) => {
      if (i.id === 'x') throw new Error('boom');
      await new Promise((r) => setTimeout(r, 5));
      seen.push(i.id);
    })).rejects.toThrow('boom');
    expect(seen).toEqual(['y']);
  });
});

describe('done items keep no bulk', () => {
  it('replaces long strings (a recording) in the params, keeping everything else', () => {
    const params = { CALL_ID: 'C1', FILE_CONTENT: 'x'.repeat(BULK_CHARS + 1), nested: { list: ['short', 'y'.repeat(5000)] }, n: 3 };
    expect(withoutBulk(params)).toEqual({
      CALL_ID: 'C1', FILE_CONTENT: `[${BULK_CHARS + 1} characters sent]`, nested: { list: ['short', '[5000 characters sent]'] }, n: 3,
    });
    expect(params.FILE_CONTENT).toHaveLength(BULK_CHARS + 1);
  });
});
