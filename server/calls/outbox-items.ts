/**
 * The outbox items of one call: ids, keys and groups in one place, so every write of a call is idempotent
 * (`<portal>:<pbxCallId>:<what>` keys) and ordered (one group per call).
 */
import { attachRecord, finishCall, hideCall, registerCall, showCall, type FinishStatusCode, type RestCall } from '../bitrix/telephony.js';
import { addCallActivity } from '../bitrix/crm.js';
import { ref, type NewOutboxItem, type ResultRef } from '../outbox/types.js';
import type { CallRecord, CrmRef } from '../store/records.js';
import type { RegisterType } from './machine.js';

/** Names of the outbox result/failure handlers registered by the calls service at boot. */
export const HANDLERS = Object.freeze({
  registered: 'calls.registered',
  registerParked: 'calls.registerParked',
  finishParked: 'calls.finishParked',
  recordingAttached: 'calls.recordingAttached',
  recordingUploadUrl: 'calls.recordingUploadUrl',
  recordingParked: 'calls.recordingParked',
});

export const callGroup = (pbxCallId: string): string => `call:${pbxCallId}`;
export const itemKey = (portal: string, pbxCallId: string, what: string): string => `${portal}:${pbxCallId}:${what}`;
export const registerItemId = (portal: string, pbxCallId: string): string => `calls:${itemKey(portal, pbxCallId, 'register')}`;
export const finishItemId = (portal: string, pbxCallId: string): string => `calls:${itemKey(portal, pbxCallId, 'finish')}`;

/** The call's CALL_ID: known once register answered (or given by ONEXTERNALCALLSTART), else a reference to the register's result. */
export function callIdOf(record: CallRecord): string | ResultRef {
  return record.b24CallId ?? ref(registerItemId(record.portal, record.pbxCallId), 'CALL_ID');
}

/** REST builders take a string CALL_ID; the outbox resolves a reference in its place when it sends. */
function withCallId(call: RestCall, callId: string | ResultRef): RestCall {
  return { method: call.method, params: { ...call.params, CALL_ID: callId } };
}

function item(record: CallRecord, what: string, call: RestCall, extra: Partial<NewOutboxItem> = {}): NewOutboxItem {
  return {
    portal: record.portal,
    group: callGroup(record.pbxCallId),
    method: call.method,
    params: call.params,
    key: itemKey(record.portal, record.pbxCallId, what),
    meta: { pbxCallId: record.pbxCallId },
    ...extra,
  };
}

/** CRM_ENTITY_TYPE of register accepts CONTACT, COMPANY and LEAD only (register docs). */
const registerableCrm = (crm: CrmRef | undefined): CrmRef | null =>
  crm && crm.entityType !== 'DEAL' ? crm : null;

/**
 * EXTERNAL_CALL_ID: unique per physical call, else Bitrix24 returns the CALL_ID of an unfinished call with the same
 * number/type/user/line for 30 minutes (pitfalls #2). Yeastar call ids restart after a PBX reset, so the start time is added.
 */
export const externalCallId = (record: CallRecord): string => `${record.pbxCallId}-${record.startedAt}`;

export function registerItem(record: CallRecord, input: { userId: number; callType: RegisterType; show: boolean; startedAt: number; lineNumber: string }): NewOutboxItem {
  const call = registerCall({
    userId: input.userId,
    phoneNumber: record.external,
    type: input.callType,
    externalCallId: externalCallId(record),
    lineNumber: input.lineNumber,
    crm: registerableCrm(record.crm),
    startedAt: new Date(input.startedAt),
    show: input.show,
  });
  return item(record, 'register', call, {
    id: registerItemId(record.portal, record.pbxCallId),
    onDone: HANDLERS.registered,
    onFailed: HANDLERS.registerParked,
  });
}

export const showItem = (record: CallRecord, userIds: number[], seq: number): NewOutboxItem =>
  item(record, `show:${seq}`, withCallId(showCall('', userIds), callIdOf(record)));

export const hideItem = (record: CallRecord, userIds: number[], seq: number): NewOutboxItem =>
  item(record, `hide:${seq}`, withCallId(hideCall('', userIds), callIdOf(record)));

export function finishItem(record: CallRecord, input: { userId: number; durationSeconds: number; statusCode: string; reason?: string }): NewOutboxItem {
  const call = finishCall({
    callId: '',
    userId: input.userId,
    durationSeconds: input.durationSeconds,
    statusCode: input.statusCode as FinishStatusCode,
    ...(input.reason ? { failedReason: input.reason } : {}),
  });
  return item(record, 'finish', withCallId(call, callIdOf(record)), { id: finishItemId(record.portal, record.pbxCallId), onFailed: HANDLERS.finishParked });
}

/**
 * attachRecord with the file inline (base64) or, without content, asking Bitrix24 for an upload URL.
 * `afterFinish`: take CALL_ID from the finish's result (finish answers it): the item then depends on the finish, so the
 * outbox sends both in one batch, in order, and never attaches to a call whose finish failed.
 */
export function attachRecordItem(
  record: CallRecord, filename: string, contentBase64: string | undefined, attempt: number, afterFinish = false,
): NewOutboxItem {
  const callId = afterFinish ? ref(finishItemId(record.portal, record.pbxCallId), 'CALL_ID') : callIdOf(record);
  const call = withCallId(attachRecord({ callId: '', filename, ...(contentBase64 !== undefined ? { contentBase64 } : {}) }), callId);
  const inline = contentBase64 !== undefined;
  return item(record, inline ? `attach:${attempt}` : `attach-url:${attempt}`, call, {
    onDone: inline ? HANDLERS.recordingAttached : HANDLERS.recordingUploadUrl,
    onFailed: HANDLERS.recordingParked,
    meta: { pbxCallId: record.pbxCallId, attempt },
  });
}

const RESULT_WORDS: Record<string, string> = {
  answered: 'answered', missed: 'missed', busy: 'busy', failed: 'failed', voicemail: 'went to voicemail',
};

const minutes = (seconds: number): string => `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;

/**
 * The durability fallback: a CRM call activity (reference §4.4) when Bitrix24's telephony refused the call for
 * good. Its own group, so it is not stuck behind the parked register of the call.
 */
export function fallbackActivityItem(record: CallRecord, owner: CrmRef, userId: number, why: string): NewOutboxItem {
  const incoming = record.direction !== 'outbound';
  const result = record.result ?? 'missed';
  const description = [
    `Result: ${RESULT_WORDS[result] ?? result}.`,
    `Talk time: ${minutes(record.talkSeconds)}.`,
    record.answeredBy ? `Answered by extension ${record.answeredBy}.` : '',
    record.extensions.length ? `Extensions: ${record.extensions.join(', ')}.` : '',
    `Logged by the PBX connector because ${why}.`,
  ].filter(Boolean).join(' ');
  const call = addCallActivity({
    owner,
    responsibleId: userId,
    phone: record.external,
    subject: `${incoming ? 'Incoming' : 'Outgoing'} call ${incoming ? 'from' : 'to'} ${record.external || 'unknown number'}`,
    start: new Date(record.startedAt),
    end: new Date(record.endedAt ?? record.startedAt + record.talkSeconds * 1000),
    incoming,
    description,
  });
  return { ...item(record, 'fallback', call), group: `${callGroup(record.pbxCallId)}:fallback` };
}

/** im.notify.system.add: a system notification to one user (https://apidocs.bitrix24.com/api-reference/chats/notifications/im-notify-system-add.html). */
export function notifyUserItem(portal: string, group: string, key: string, userId: number, message: string): NewOutboxItem {
  return { portal, group, key, method: 'im.notify.system.add', params: { USER_ID: userId, MESSAGE: message } };
}
