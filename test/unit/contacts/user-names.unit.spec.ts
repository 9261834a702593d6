import { describe, expect, it } from 'vitest';
import { createUserNames } from '../../../server/contacts/user-names.js';
import { createLogger } from '../../../server/log.js';
import type { BitrixClient, BitrixClients } from '../../../server/bitrix/types.js';

function clientsAnswering(pages: () => unknown[]): { clients: BitrixClients; calls: () => number } {
  let count = 0;
  const client: BitrixClient = {
    memberId: 'p1',
    call: async () => {
      throw new Error('not used');
    },
    list: async <T>() => {
      count += 1;
      return pages() as T[];
    },
    batch: async () => ({ results: {}, errors: {} }),
  };
  return { clients: { forPortal: () => client, requestCount: () => count }, calls: () => count };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('user names for the timeline', () => {
  it('answers null at first, the name once the list arrived, and asks Bitrix24 once per TTL', async () => {
    let t = 0;
    const { clients, calls } = clientsAnswering(() => [{ ID: '7', ACTIVE: true, NAME: 'Anna', LAST_NAME: 'Lee', EMAIL: 'a@x.io' }]);
    const names = createUserNames({ clients, log: createLogger('silent'), ttlMs: 1000, now: () => t });
    expect(names.nameOf('p1', 7)).toBeNull();
    await tick();
    await tick();
    expect(names.nameOf('p1', 7)).toBe('Anna Lee');
    expect(names.nameOf('p1', 8)).toBeNull();
    expect(calls()).toBe(1);
    t = 1500;
    names.nameOf('p1', 7);
    expect(calls()).toBe(2);
  });

  it('keeps working with extensions when Bitrix24 fails', async () => {
    const { clients } = clientsAnswering(() => {
      throw new Error('down');
    });
    const names = createUserNames({ clients, log: createLogger('silent') });
    expect(names.nameOf('p1', 1)).toBeNull();
    await tick();
    expect(names.nameOf('p1', 1)).toBeNull();
  });
});
