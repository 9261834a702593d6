import type { CallRow, SettingsResponse, StatusResponse } from '../../contract/api-shapes.js';

export function statusFixture(overrides: { isAdmin?: boolean; configured?: boolean; enabled?: boolean } = {}): StatusResponse {
  return {
    portal: { memberId: 'member-1', domain: 'acme.bitrix24.com', installed: true, needsReinstall: null, ratePlan: 'standard', lineNumber: 'yeastar-1' },
    user: { id: 1, isAdmin: overrides.isAdmin ?? true, extension: '1001' },
    enabled: overrides.enabled ?? true,
    pbx: { configured: overrides.configured ?? true, state: 'connected', lastError: null, lastErrorCode: null, lastEventAt: null },
    outbox: { pending: 0, failed: 0, oldestPendingAt: null },
  };
}

export function settingsFixture(pbx: SettingsResponse['pbx'] = null): SettingsResponse {
  return {
    enabled: false,
    pbx,
    contactSync: { enabled: false, entityType: 'CONTACT', phonebookId: null },
    autoCreate: { enabled: false, inbound: true, outbound: false, entityType: 'LEAD', namePrefix: 'Automatic New Contact - ' },
    defaultCountry: 'US',
    unboundCallsUserId: null,
    missedCallTasks: { enabled: false, defaultUserId: null, deadlineHours: 2 },
    routing: { enabled: false },
  };
}

export function callFixture(id: string, startedAt: number, overrides: Partial<CallRow> = {}): CallRow {
  return {
    id,
    direction: 'inbound',
    origin: 'pbx',
    external: '+14155550100',
    did: '+14155550000',
    via: null,
    startedAt,
    endedAt: startedAt + 60_000,
    talkSeconds: 42,
    result: 'answered',
    rang: [{ extension: '1001', userId: 1, userName: 'Anna Admin' }],
    answeredBy: { extension: '1001', userId: 1, userName: 'Anna Admin' },
    crm: { entityType: 'CONTACT', entityId: 7 },
    answeredAt: startedAt + 5_000,
    b24CallId: `externalCall.${id}`,
    recording: { available: true, state: 'attached', url: null },
    live: false,
    ...overrides,
  };
}
