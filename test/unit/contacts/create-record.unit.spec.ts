/**
 * contacts/create-record.ts: the call card's "Create contact / lead" (issue 12 point 5). The record is added as the
 * agent (their token, one `batch` command), named as auto-create names records, with the phone in E.164 and the agent
 * responsible; a refusal by Bitrix24 is the agent's answer, and nothing is remembered for the lookup then.
 */
import { describe, expect, it } from 'vitest';
import type { UserAuth, UserRest } from '../../../server/bitrix/as-user.js';
import type { BatchCommand, BatchResult } from '../../../server/bitrix/types.js';
import { createRecordAsAgent, type RecordCreatorDeps } from '../../../server/contacts/create-record.js';
import { DEFAULT_SETTINGS, type CrmRef, type PortalSettings } from '../../../server/store/records.js';
import { portal, silentLog } from '../calls/fakes.js';

const agent: UserAuth = { portal: portal('p1'), userId: 11, accessToken: 'agent-token' };

function creator(answer: (c: BatchCommand) => BatchResult, settings: Partial<PortalSettings> = {}) {
  const sent: { token: string; commands: BatchCommand[] }[] = [];
  const remembered: { portal: string; e164: string; ref: CrmRef }[] = [];
  const deps: RecordCreatorDeps = {
    restAs: (user): UserRest => ({
      batch: async (commands) => {
        sent.push({ token: user.accessToken, commands });
        return answer(commands[0] as BatchCommand);
      },
    }),
    settingsOf: () => ({ ...DEFAULT_SETTINGS, ...settings }),
    remember: (p, e164, ref) => remembered.push({ portal: p, e164, ref }),
    log: silentLog(),
  };
  return { deps, sent, remembered };
}

describe('creating a CRM record from the call card', () => {
  it('adds a contact with the agent\'s token, named by the auto-create rule, the phone in E.164, the agent responsible', async () => {
    const c = creator((cmd) => ({ results: { [cmd.key]: 812 }, errors: {} }), { defaultCountry: 'RU' });
    const created = await createRecordAsAgent(c.deps, agent, 'CONTACT', '89123456789');
    expect(created).toEqual({ entityType: 'CONTACT', entityId: 812, name: 'Automatic New Contact -89123456789' });
    expect(c.sent).toHaveLength(1);
    expect(c.sent[0]?.token).toBe('agent-token');
    expect(c.sent[0]?.commands).toEqual([{
      key: 'add', method: 'crm.contact.add',
      params: {
        fields: {
          PHONE: [{ VALUE: '+79123456789', VALUE_TYPE: 'WORK' }], NAME: 'Automatic New Contact -89123456789', ASSIGNED_BY_ID: 11, SOURCE_ID: 'CALL',
        },
        params: { REGISTER_SONET_EVENT: 'Y' },
      },
    }]);
    expect(c.remembered).toEqual([{ portal: 'p1', e164: '+79123456789', ref: { entityType: 'CONTACT', entityId: 812 } }]);
  });

  it('a lead carries the name as its TITLE too, with the portal\'s own prefix', async () => {
    const c = creator((cmd) => ({ results: { [cmd.key]: '77' }, errors: {} }), { autoCreate: { ...DEFAULT_SETTINGS.autoCreate, namePrefix: 'Caller ' } });
    const created = await createRecordAsAgent(c.deps, agent, 'LEAD', '+14155550100');
    expect(created).toEqual({ entityType: 'LEAD', entityId: 77, name: 'Caller +14155550100' });
    expect(c.sent[0]?.commands[0]).toMatchObject({ method: 'crm.lead.add', params: { fields: { TITLE: 'Caller +14155550100', NAME: 'Caller +14155550100' } } });
  });

  it('a refusal by Bitrix24 (the agent may not add contacts) is an error with its code, and nothing is remembered', async () => {
    const c = creator((cmd) => ({ results: {}, errors: { [cmd.key]: { error: 'ACCESS_DENIED', description: 'Access denied' } } }));
    await expect(createRecordAsAgent(c.deps, agent, 'CONTACT', '+14155550100')).rejects.toMatchObject({ code: 'ACCESS_DENIED' });
    expect(c.remembered).toEqual([]);
  });

  it('an answer without an id is an error, not a record 0', async () => {
    const c = creator((cmd) => ({ results: { [cmd.key]: true }, errors: {} }));
    await expect(createRecordAsAgent(c.deps, agent, 'CONTACT', '+14155550100')).rejects.toMatchObject({ code: 'ERROR_UNEXPECTED_ANSWER' });
  });
});
