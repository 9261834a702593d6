import { describe, expect, it } from 'vitest';
import { BitrixError, type BatchCommand, type BatchResult, type BitrixClient } from '../../../server/bitrix/types.js';
import { createLookupQueue } from '../../../server/contacts/lookup-queue.js';

/** A client whose answers the test releases, recording what went out as one HTTP request each. */
function heldClient(answer: (values: string[]) => unknown) {
  const sent: { kind: 'call' | 'batch'; lookups: string[][] }[] = [];
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
  const valuesOf = (params: Record<string, unknown>): string[] => (Array.isArray(params.values) ? params.values.map(String) : []);
  const client: BitrixClient = {
    memberId: 'p1',
    call: <T>(method: string, params: Record<string, unknown> = {}) => {
      expect(method).toBe('crm.duplicate.findbycomm');
      sent.push({ kind: 'call', lookups: [valuesOf(params)] });
      return hold(() => answer(valuesOf(params)) as T);
    },
    list: () => Promise.reject(new Error('unused')),
    batch: (commands: BatchCommand[]): Promise<BatchResult> => {
      sent.push({ kind: 'batch', lookups: commands.map((c) => valuesOf(c.params)) });
      return hold(() => {
        const results: Record<string, unknown> = {};
        const errors: BatchResult['errors'] = {};
        for (const c of commands) {
          const values = valuesOf(c.params);
          if (values[0] === 'bad') errors[c.key] = { error: 'ERROR_CORE', description: 'refused' };
          else results[c.key] = answer(values);
        }
        return { results, errors };
      });
    },
  };
  const releaseAll = async () => {
    while (held.length > 0) {
      held.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
  };
  return { client, sent, releaseAll };
}

const byNumber = (values: string[]) => (values[0] === '+1' ? { CONTACT: [7] } : values[0] === '+2' ? { LEAD: ['9'] } : []);

describe('CRM lookup queue', () => {
  it('sends a lone lookup at once, and the ones arriving meanwhile together in one batch', async () => {
    const { client, sent, releaseAll } = heldClient(byNumber);
    const queue = createLookupQueue({ forPortal: () => client });
    const first = queue.find('p1', ['+1']);
    const rest = [queue.find('p1', ['+2']), queue.find('p1', ['+3']), queue.find('p1', ['+1'])];
    expect(sent).toEqual([{ kind: 'call', lookups: [['+1']] }]);
    await releaseAll();
    expect(await first).toEqual({ CONTACT: [7] });
    expect(await Promise.all(rest)).toEqual([{ LEAD: [9] }, {}, { CONTACT: [7] }]);
    expect(sent).toEqual([{ kind: 'call', lookups: [['+1']] }, { kind: 'batch', lookups: [['+2'], ['+3'], ['+1']] }]);
  });

  it('splits a backlog into batches of at most 50', async () => {
    const { client, sent, releaseAll } = heldClient(() => []);
    const queue = createLookupQueue({ forPortal: () => client });
    const all = Array.from({ length: 121 }, (_, i) => queue.find('p1', [`+${i}`]));
    await releaseAll();
    await Promise.all(all);
    expect(sent.map((s) => s.lookups.length)).toEqual([1, 50, 50, 20]);
  });

  it('keeps portals apart, and fails only the refused lookup of a batch', async () => {
    const { client, sent, releaseAll } = heldClient(byNumber);
    const queue = createLookupQueue({ forPortal: () => client });
    const a = queue.find('p1', ['+1']);
    const b = queue.find('p2', ['+2']);
    const bad = queue.find('p1', ['bad']);
    const good = queue.find('p1', ['+2']);
    expect(sent.map((s) => s.kind)).toEqual(['call', 'call']);
    const badResult = bad.catch((err: unknown) => err);
    await releaseAll();
    expect(await a).toEqual({ CONTACT: [7] });
    expect(await b).toEqual({ LEAD: [9] });
    expect(await good).toEqual({ LEAD: [9] });
    const err = await badResult;
    expect(err).toBeInstanceOf(BitrixError);
    expect((err as BitrixError).code).toBe('ERROR_CORE');
  });

  it('rejects every lookup of a request that failed as a whole, then carries on', async () => {
    let fail = true;
    const { client, releaseAll } = heldClient((values) => {
      if (fail) {
        fail = false;
        throw new BitrixError('QUERY_LIMIT_EXCEEDED', 'too many', 503, true);
      }
      return byNumber(values);
    });
    const queue = createLookupQueue({ forPortal: () => client });
    const first = queue.find('p1', ['+1']).catch((err: unknown) => err);
    await releaseAll();
    expect(await first).toBeInstanceOf(BitrixError);
    const again = queue.find('p1', ['+1']);
    await releaseAll();
    expect(await again).toEqual({ CONTACT: [7] });
  });
});
