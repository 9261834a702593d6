/**
 * Call registration and finishing as Bitrix24 does them, shared by the REST methods and click-to-call.
 * https://apidocs.bitrix24.com/api-reference/telephony/telephony-external-call-register.html,
 * https://apidocs.bitrix24.com/api-reference/telephony/telephony-external-call-finish.html
 */
import { OWNER_TYPE_ID, createEntity, findByPhone, getEntity } from './crm-store.js';
import { coreError } from './errors.js';
import type { CallRecord, CrmEntityType, Portal, User } from './state.js';
import { randomHex } from './tokens.js';
import { isoWithOffset } from './time-envelope.js';

export const DEDUP_WINDOW_MS = 30 * 60 * 1000;

export function newCallId(): string {
  return `externalCall.${randomHex(16)}.${Math.floor(Date.now() / 1000)}`;
}

/** USER_ID or USER_PHONE_INNER → an active user, with the documented errors. */
export function resolveUser(portal: Portal, userId: number | undefined, inner: string | undefined): User {
  if (userId === undefined && (inner === undefined || inner === '')) throw coreError('USER_ID or USER_PHONE_INNER should be set');
  const user =
    userId !== undefined ? portal.users.get(userId) : [...portal.users.values()].find((u) => u.UF_PHONE_INNER === inner);
  if (!user || !user.ACTIVE) throw coreError('User is not found or is not active');
  return user;
}

/** The entity a call binds to: contact first, then company, then lead (CRM binding priority). */
export function bindingFor(portal: Portal, phone: string): { type: CrmEntityType; id: number } | null {
  const found = findByPhone(portal, phone);
  for (const type of ['CONTACT', 'COMPANY', 'LEAD'] as const) {
    const hit = found.find((e) => e.type === type);
    if (hit) return { type, id: hit.id };
  }
  return null;
}

export function findDuplicateCall(portal: Portal, key: Pick<CallRecord, 'phoneNumber' | 'type' | 'userId' | 'lineNumber' | 'externalCallId'>): CallRecord | undefined {
  const now = Date.now();
  return [...portal.calls.values()].find(
    (c) =>
      c.origin === 'register' &&
      c.finished === null &&
      now - c.registeredAt < DEDUP_WINDOW_MS &&
      c.phoneNumber === key.phoneNumber &&
      c.type === key.type &&
      c.userId === key.userId &&
      c.lineNumber === key.lineNumber &&
      c.externalCallId === key.externalCallId,
  );
}

/** CRM_CREATE (or the line's CRM_AUTO_CREATE for outgoing calls) creates a lead for an unknown number. */
export function autoCreateLead(portal: Portal, phone: string, type: number, userId: number): { type: CrmEntityType; id: number } {
  const direction = type === 1 ? 'Outgoing' : 'Incoming';
  const lead = createEntity(
    portal,
    'LEAD',
    { TITLE: `${phone} - ${direction} call`, STATUS_ID: 'NEW', SOURCE_ID: 'CALL', PHONE: [{ VALUE: phone, VALUE_TYPE: 'WORK' }] },
    userId,
  );
  return { type: 'LEAD', id: lead.id };
}

export function crmEntityExists(portal: Portal, type: CrmEntityType, id: number): boolean {
  return getEntity(portal, type, id) !== undefined;
}

export function activityDirection(type: number): number {
  // crm_enum_activitydirection: 1 incoming, 2 outgoing.
  return type === 1 ? 2 : 1;
}

export function createCallActivity(portal: Portal, call: CallRecord, userId: number, duration: number, statusCode: string): number | null {
  if (!call.crmEntityType || call.crmEntityId === null) return null;
  const id = portal.nextActivityId++;
  const start = Date.parse(call.startDate) || call.registeredAt;
  const incoming = call.type !== 1;
  portal.activities.set(id, {
    ID: id,
    OWNER_TYPE_ID: OWNER_TYPE_ID[call.crmEntityType],
    OWNER_ID: call.crmEntityId,
    TYPE_ID: 2,
    PROVIDER_ID: 'VOXIMPLANT_CALL',
    PROVIDER_TYPE_ID: 'CALL',
    SUBJECT: incoming ? `Incoming call from ${call.phoneNumber}` : `Outgoing call to ${call.phoneNumber}`,
    DIRECTION: activityDirection(call.type),
    COMPLETED: 'Y',
    RESPONSIBLE_ID: userId,
    START_TIME: isoWithOffset(start),
    END_TIME: isoWithOffset(start + duration * 1000),
    DESCRIPTION: statusCode === '200' ? '' : `Call status ${statusCode}`,
    COMMUNICATIONS: [{ VALUE: call.phoneNumber, ENTITY_ID: call.crmEntityId, ENTITY_TYPE_ID: OWNER_TYPE_ID[call.crmEntityType] }],
    ORIGIN_ID: `VI_${call.callId}`,
    FILES: [],
    SETTINGS: {},
  });
  return id;
}
