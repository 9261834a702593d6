import { describe, expect, it } from 'vitest';
import type { CrmUser } from '../../../server/bitrix/users.js';
import { planAutoBind, planManualBind } from '../../../server/contacts/binding.js';
import type { PbxExtension } from '../../../server/pbx/adapter.js';
import type { Binding } from '../../../server/store/records.js';

const user = (id: number, email: string, innerPhone = ''): CrmUser => ({ id, name: `User ${id}`, email, innerPhone });
const ext = (number: string, email = ''): PbxExtension => ({ number, name: `Ext ${number}`, email });

describe('planAutoBind', () => {
  it('binds by e-mail (trimmed, any case) and by UF_PHONE_INNER, and nothing else', () => {
    const plan = planAutoBind(
      [user(1, ' Anna@Example.com '), user(2, 'bob@example.com', '1002'), user(3, 'carol@example.com', '1999'), user(4, '')],
      [ext('1001', 'anna@example.COM'), ext('1002'), ext('1003', 'dave@example.com'), ext('1004')],
      [],
    );
    expect(plan.pairs).toEqual([
      { userId: 1, extension: '1001', reason: 'email' },
      { userId: 2, extension: '1002', reason: 'inner' },
    ]);
    expect(plan.conflicts).toEqual([]);
    expect(plan.bindings).toEqual([
      { userId: 1, extension: '1001', source: 'email' },
      { userId: 2, extension: '1002', source: 'inner' },
    ]);
  });

  it('counts a pair matched by e-mail and inner number once, as e-mail', () => {
    const plan = planAutoBind([user(1, 'a@x.io', '1001')], [ext('1001', 'a@x.io')], []);
    expect(plan.pairs).toEqual([{ userId: 1, extension: '1001', reason: 'email' }]);
  });

  it('keeps manual bindings and reports auto matches that collide with them', () => {
    const current: Binding[] = [
      { userId: 1, extension: '1005', source: 'manual' },
      { userId: 9, extension: '1002', source: 'manual' },
      { userId: 7, extension: '1007', source: 'email' },
    ];
    const plan = planAutoBind([user(1, 'a@x.io'), user(2, 'b@x.io', '1002')], [ext('1001', 'a@x.io'), ext('1002'), ext('1005')], current);
    expect(plan.bindings).toEqual([
      { userId: 1, extension: '1005', source: 'manual' },
      { userId: 9, extension: '1002', source: 'manual' },
    ]);
    expect(plan.conflicts).toEqual([
      { userId: 1, extension: '1001', reason: 'User 1 is bound manually to extension 1005' },
      { userId: 2, extension: '1002', reason: 'extension 1002 is bound manually to Bitrix24 user #9' },
    ]);
  });

  it('binds nobody when one e-mail belongs to two users and says why', () => {
    const plan = planAutoBind([user(1, 'shared@x.io'), user(2, 'shared@x.io')], [ext('1001', 'shared@x.io')], []);
    expect(plan.pairs).toEqual([]);
    expect(plan.conflicts.map((c) => [c.userId, c.extension])).toEqual([[1, '1001'], [2, '1001']]);
    expect(plan.conflicts[0]?.reason).toMatch(/belongs to 2 users/);
  });

  it('auto-bind: an e-mail match binds even when UF_PHONE_INNER names another extension', () => {
    // Before issue 11 the inner number vetoed the e-mail pair (a "user also matches" conflict): the manual says e-mail binds.
    const plan = planAutoBind([user(3, 'c@x.io', '1004')], [ext('1003', 'c@x.io'), ext('1004')], []);
    expect(plan.pairs).toEqual([{ userId: 3, extension: '1003', reason: 'email' }]);
    expect(plan.conflicts).toEqual([]);
  });

  it('auto-bind: an inner number never takes an extension an e-mail pair holds', () => {
    const plan = planAutoBind([user(1, 'a@x.io'), user(2, 'b@x.io', '1001')], [ext('1001', 'a@x.io')], []);
    expect(plan.pairs).toEqual([{ userId: 1, extension: '1001', reason: 'email' }]);
    expect(plan.conflicts).toEqual([]);
  });

  it('auto-bind: two extensions with one e-mail are a conflict, shown and skipped (the inner number does not settle it)', () => {
    const plan = planAutoBind([user(1, 'a@x.io', '1002'), user(2, 'b@x.io')], [ext('1001', 'a@x.io'), ext('1002', 'A@x.io'), ext('1003', 'b@x.io')], []);
    expect(plan.pairs).toEqual([{ userId: 2, extension: '1003', reason: 'email' }]);
    expect(plan.conflicts.map((c) => [c.userId, c.extension])).toEqual([[1, '1001'], [1, '1002']]);
    expect(plan.conflicts[0]?.reason).toMatch(/a@x\.io is on 2 extensions \(1001, 1002\)/);
  });

  it('auto-bind: two users naming one extension as inner number are a conflict', () => {
    const plan = planAutoBind([user(1, '', '1001'), user(2, '', '1001')], [ext('1001')], []);
    expect(plan.pairs).toEqual([]);
    expect(plan.conflicts).toHaveLength(2);
  });
});

describe('planManualBind', () => {
  const known = { names: new Map([[1, 'Anna Petrova'], [2, 'Boris Ivanov'], [3, 'carol@example.com']]), extensions: new Set(['1001', '1002', '1003']) };

  it('binds, moves and unbinds users; manual bindings are marked manual', () => {
    const current: Binding[] = [{ userId: 1, extension: '1001', source: 'email' }, { userId: 2, extension: '1002', source: 'inner' }];
    const plan = planManualBind(current, [{ userId: 1, extension: '1003' }, { userId: 2, extension: null }, { userId: 3, extension: '1002' }], known);
    expect(plan.conflicts).toEqual([]);
    expect(plan.applied).toBe(true);
    expect(plan.bindings).toEqual([
      { userId: 1, extension: '1003', source: 'manual' },
      { userId: 3, extension: '1002', source: 'manual' },
    ]);
  });

  // Before issue 12 changes were applied one by one, so a swap needed an unbind first and half a request could be saved.
  it('swaps two users\' extensions in one request: the final state is checked, not each change in order', () => {
    const current: Binding[] = [{ userId: 1, extension: '1001', source: 'manual' }, { userId: 2, extension: '1002', source: 'email' }];
    const plan = planManualBind(current, [{ userId: 1, extension: '1002' }, { userId: 2, extension: '1001' }], known);
    expect(plan.conflicts).toEqual([]);
    expect(plan.bindings).toEqual([
      { userId: 1, extension: '1002', source: 'manual' },
      { userId: 2, extension: '1001', source: 'manual' },
    ]);
  });

  it('refuses the whole request on any conflict, naming the people: taken extension, unknown user, unknown extension', () => {
    const current: Binding[] = [{ userId: 1, extension: '1001', source: 'manual' }];
    const plan = planManualBind(current, [{ userId: 3, extension: '1003' }, { userId: 2, extension: '1001' }, { userId: 4, extension: '1002' }, { userId: 3, extension: '1009' }], known);
    expect(plan.applied).toBe(false);
    expect(plan.bindings).toEqual(current);
    expect(plan.conflicts).toEqual([
      { userId: 4, extension: '1002', reason: 'Bitrix24 user #4 is not an active Bitrix24 user' },
      { userId: 3, extension: '1009', reason: 'extension 1009 does not exist on the PBX' },
      { userId: 2, extension: '1001', reason: 'extension 1001 would also ring Anna Petrova: give one of them another extension' },
    ]);
  });

  it('refuses two users in one request claiming one extension, and names both', () => {
    const plan = planManualBind([], [{ userId: 1, extension: '1001' }, { userId: 2, extension: '1001' }], known);
    expect(plan.bindings).toEqual([]);
    expect(plan.conflicts.map((c) => c.reason)).toEqual([
      'extension 1001 would also ring Boris Ivanov: give one of them another extension',
      'extension 1001 would also ring Anna Petrova: give one of them another extension',
    ]);
  });
});

describe('bindingChanges (the auto-bind preview)', () => {
  it('lists only users whose extension changes, kept pairs left out', () => {
    const plan = planAutoBind(
      [user(1, 'a@x.io'), user(2, 'b@x.io'), user(3, 'c@x.io')],
      [ext('1001', 'a@x.io'), ext('1002', 'b@x.io')],
      [{ userId: 1, extension: '1001', source: 'email' }, { userId: 3, extension: '1003', source: 'email' }],
    );
    expect(plan.pairs).toHaveLength(2);
    expect(plan.changes).toEqual([
      { userId: 2, from: null, to: '1002', reason: 'email' },
      { userId: 3, from: '1003', to: null, reason: null },
    ]);
  });
});
