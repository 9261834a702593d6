/**
 * calls/call-access.ts: who sees a call (issue 10 point 7). The fake Bitrix24 answers crm.item.get inside a batch the
 * way crm-item-get.md documents it (ACCESS_DENIED for a record the user may not read), per user, and notes which
 * token asked and how many requests it took: a page of calls on one record must cost one check.
 */
import { describe, expect, it } from 'vitest';
import type { UserAuth, UserRest } from '../../../server/bitrix/as-user.js';
import type { BatchCommand, BatchResult } from '../../../server/bitrix/types.js';
import { createCallAccess, type CallViewer } from '../../../server/calls/call-access.js';
import type { CallRecord } from '../../../server/store/records.js';
import { portal } from './fakes.js';

class RightsPortal {
  /** `userId:CONTACT_5` the user may read. */
  readonly readable = new Set<string>();
  readonly requests: { token: string; commands: BatchCommand[] }[] = [];
  fail: Error | null = null;

  restAs(user: UserAuth): UserRest {
    return {
      batch: async (commands) => {
        this.requests.push({ token: user.accessToken, commands });
        await Promise.resolve();
        if (this.fail) throw this.fail;
        const out: BatchResult = { results: {}, errors: {} };
        for (const c of commands) {
          if (this.readable.has(`${user.userId}:${c.key}`)) out.results[c.key] = { item: { id: c.params.id } };
          else out.errors[c.key] = { error: 'ACCESS_DENIED', description: 'You do not have permission to view this item' };
        }
        return out;
      },
    };
  }
}

function viewer(userId: number, isAdmin = false): CallViewer {
  return { portal: portal('p1'), userId, isAdmin, accessToken: `token-${userId}` };
}

function call(id: string, over: Partial<CallRecord> = {}): CallRecord {
  return {
    portal: 'p1', pbxCallId: id, direction: 'inbound', external: '+14155550123', extensions: ['1001'], shownTo: [], startedAt: 1,
    talkSeconds: 0, origin: 'pbx', recordingState: 'none', phase: 'logged', crm: { entityType: 'CONTACT', entityId: 5 }, updatedAt: 1, ...over,
  };
}

function access(b24: RightsPortal, bindings: Record<string, number> = {}, now = () => 0) {
  return createCallAccess({ userForExtension: (_p, ext) => bindings[ext], restAs: (u) => b24.restAs(u), now });
}

describe('who sees a call', () => {
  it('an admin sees every call without asking Bitrix24', async () => {
    const b24 = new RightsPortal();
    const calls = [call('a', { shownTo: [7] }), call('b')];
    expect(await access(b24).visible(viewer(1, true), calls)).toEqual(calls);
    expect(b24.requests).toEqual([]);
  });

  it('an employee sees the calls the record names them in, without asking Bitrix24', async () => {
    const b24 = new RightsPortal();
    const calls = [call('shown', { shownTo: [12, 7] }), call('logged', { userId: 7, crm: undefined }), call('other', { shownTo: [12], crm: undefined })];
    expect((await access(b24).visible(viewer(7), calls)).map((c) => c.pbxCallId)).toEqual(['shown', 'logged']);
    expect(b24.requests).toEqual([]);
  });

  it("today's binding counts only for a record that names nobody (a new holder of an extension does not inherit its calls)", async () => {
    const b24 = new RightsPortal();
    const calls = [call('nobody', { crm: undefined }), call('named', { shownTo: [12], crm: undefined })];
    expect((await access(b24, { 1001: 7 }).visible(viewer(7), calls)).map((c) => c.pbxCallId)).toEqual(['nobody']);
  });

  it("a page of 20 calls on one record costs ONE crm.item.get, asked with the employee's own token, and the verdict is reused", async () => {
    const b24 = new RightsPortal();
    b24.readable.add('7:CONTACT_5');
    const calls = Array.from({ length: 20 }, (_, i) => call(`c${i}`, { shownTo: [12] }));
    const a = access(b24);
    const [one, two] = await Promise.all([a.visible(viewer(7), calls), a.visible(viewer(7), calls)]);
    expect(one).toHaveLength(20);
    expect(two).toHaveLength(20);
    expect(b24.requests).toHaveLength(1);
    expect(b24.requests[0]).toEqual({ token: 'token-7', commands: [{ key: 'CONTACT_5', method: 'crm.item.get', params: { entityTypeId: 3, id: 5 } }] });
    await a.visible(viewer(7), calls);
    expect(b24.requests).toHaveLength(1);
  });

  it('distinct records of a page go in one batch; a refused record hides its calls; another user asks for themselves', async () => {
    const b24 = new RightsPortal();
    b24.readable.add('7:CONTACT_5');
    b24.readable.add('8:LEAD_9');
    const calls = [call('contact'), call('lead', { crm: { entityType: 'LEAD', entityId: 9 } }), call('deal', { crm: { entityType: 'DEAL', entityId: 3 } })];
    const a = access(b24);
    expect((await a.visible(viewer(7), calls)).map((c) => c.pbxCallId)).toEqual(['contact']);
    expect(b24.requests).toHaveLength(1);
    expect(b24.requests[0]?.commands.map((c) => c.params)).toEqual([{ entityTypeId: 3, id: 5 }, { entityTypeId: 1, id: 9 }, { entityTypeId: 2, id: 3 }]);
    expect((await a.visible(viewer(8), calls)).map((c) => c.pbxCallId)).toEqual(['lead']);
    expect(b24.requests.map((r) => r.token)).toEqual(['token-7', 'token-8']);
  });

  it('a verdict expires: a right granted in Bitrix24 shows within the TTL', async () => {
    const b24 = new RightsPortal();
    let clock = 0;
    const a = access(b24, {}, () => clock);
    expect(await a.canSee(viewer(7), call('x'))).toBe(false);
    b24.readable.add('7:CONTACT_5');
    clock = 59_999;
    expect(await a.canSee(viewer(7), call('x'))).toBe(false);
    clock = 60_000;
    expect(await a.canSee(viewer(7), call('x'))).toBe(true);
  });

  it('Bitrix24 unreachable: the answer fails (nothing shown on a guess) and nothing is kept', async () => {
    const b24 = new RightsPortal();
    b24.readable.add('7:CONTACT_5');
    b24.fail = new Error('socket hang up');
    const a = access(b24);
    await expect(a.visible(viewer(7), [call('x')])).rejects.toThrow('socket hang up');
    b24.fail = null;
    expect(await a.canSee(viewer(7), call('x'))).toBe(true);
  });
});
