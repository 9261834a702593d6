/**
 * telephony.externalLine.* / telephony.externalCall.* — param builders (for the outbox) and direct calls (setup).
 * https://apidocs.bitrix24.com/api-reference/telephony/index.html
 */
import type { CrmEntityType, CrmRef } from '../store/records.js';
import { fieldText, positiveId } from './fields.js';

export interface RestCall {
  method: string;
  params: Record<string, unknown>;
}

export interface ExternalLine {
  number: string;
  name: string;
  crmAutoCreate: boolean;
}

/** Bitrix24 call TYPE: 1 outgoing, 2 incoming, 4 callback (telephony-external-call-register.md). */
export type B24CallType = 1 | 2 | 3 | 4 | 5;

export interface RegisterCallInput {
  userId: number;
  phoneNumber: string;
  type: B24CallType;
  /** The PBX call id: unique, so a repeat within 30 min never returns an old CALL_ID (reference §3.2). */
  externalCallId: string;
  lineNumber: string;
  crm?: CrmRef | null;
  startedAt?: Date;
  show?: boolean;
  crmCreate?: boolean;
  callListId?: number;
}

export function addExternalLine(line: ExternalLine): RestCall {
  return { method: 'telephony.externalLine.add', params: { NUMBER: line.number, NAME: line.name, CRM_AUTO_CREATE: line.crmAutoCreate ? 'Y' : 'N' } };
}

export const getExternalLines = (): RestCall => ({ method: 'telephony.externalLine.get', params: {} });

export function readExternalLines(result: unknown): ExternalLine[] {
  if (!Array.isArray(result)) return [];
  return result.flatMap((row: unknown) => {
    if (typeof row !== 'object' || row === null) return [];
    const r = row as Record<string, unknown>;
    return [{ number: String(r.NUMBER ?? ''), name: String(r.NAME ?? ''), crmAutoCreate: r.CRM_AUTO_CREATE !== 'N' }];
  });
}

export function registerCall(input: RegisterCallInput): RestCall {
  const params: Record<string, unknown> = {
    USER_ID: input.userId,
    PHONE_NUMBER: input.phoneNumber,
    TYPE: input.type,
    EXTERNAL_CALL_ID: input.externalCallId,
    LINE_NUMBER: input.lineNumber,
    SHOW: input.show === false ? 0 : 1,
    CRM_CREATE: input.crmCreate ? 1 : 0,
  };
  if (input.startedAt) params.CALL_START_DATE = input.startedAt.toISOString();
  if (input.crm) {
    params.CRM_ENTITY_TYPE = input.crm.entityType;
    params.CRM_ENTITY_ID = input.crm.entityId;
  }
  if (input.callListId) params.CALL_LIST_ID = input.callListId;
  return { method: 'telephony.externalCall.register', params };
}

export function showCall(callId: string, userIds: number[]): RestCall {
  return { method: 'telephony.externalCall.show', params: { CALL_ID: callId, USER_ID: userIds } };
}

export function hideCall(callId: string, userIds: number[]): RestCall {
  return { method: 'telephony.externalCall.hide', params: { CALL_ID: callId, USER_ID: userIds } };
}

/** STATUS_CODE values from telephony-external-call-finish.md. */
export type FinishStatusCode = '200' | '304' | '403' | '404' | '480' | '484' | '486' | '503' | '603' | '603-S' | 'OTHER';

export interface FinishCallInput {
  callId: string;
  userId: number;
  durationSeconds: number;
  statusCode: FinishStatusCode;
  failedReason?: string;
  addToChat?: boolean;
}

export function finishCall(input: FinishCallInput): RestCall {
  const params: Record<string, unknown> = {
    CALL_ID: input.callId,
    USER_ID: input.userId,
    DURATION: Math.max(0, Math.round(input.durationSeconds)),
    STATUS_CODE: input.statusCode,
  };
  if (input.failedReason) params.FAILED_REASON = input.failedReason;
  if (input.addToChat === false) params.ADD_TO_CHAT = 0;
  return { method: 'telephony.externalCall.finish', params };
}

/**
 * attachRecord: with content → attached at once (FILE_ID); with only FILENAME → Bitrix24 answers an uploadUrl
 * for a multipart POST (large files). Only wav/mp3 (telephony-external-call-attach-record.md).
 */
export function attachRecord(input: { callId: string; filename: string; contentBase64?: string; recordUrl?: string }): RestCall {
  const params: Record<string, unknown> = { CALL_ID: input.callId, FILENAME: input.filename };
  if (input.contentBase64 !== undefined) params.FILE_CONTENT = input.contentBase64;
  if (input.recordUrl !== undefined) params.RECORD_URL = input.recordUrl;
  return { method: 'telephony.externalCall.attachRecord', params };
}

const CRM_TYPES: readonly CrmEntityType[] = ['CONTACT', 'LEAD', 'COMPANY', 'DEAL'];

/** CRM_ENTITY_TYPE + CRM_ENTITY_ID, as register answers them and telephony events carry them (strings or numbers). */
export function readCrmRef(type: unknown, id: unknown): CrmRef | null {
  const entityType = fieldText(type).toUpperCase() as CrmEntityType;
  const entityId = positiveId(fieldText(id));
  return CRM_TYPES.includes(entityType) && entityId !== null ? { entityType, entityId } : null;
}

/** What telephony.externalCall.register answered that we keep (telephony-external-call-register.md). */
export interface RegisteredCall {
  callId?: string;
  /** The CRM record Bitrix24 bound the call to (found or created by CRM_CREATE). */
  crm: CrmRef | null;
  /** Bitrix24 was asked to create a lead and could not: its reason. */
  leadCreationError?: string;
}

export function readRegisteredCall(result: unknown): RegisteredCall | undefined {
  if (typeof result !== 'object' || result === null) return undefined;
  const r = result as Record<string, unknown>;
  return {
    ...(typeof r.CALL_ID === 'string' ? { callId: r.CALL_ID } : {}),
    crm: readCrmRef(r.CRM_ENTITY_TYPE, r.CRM_ENTITY_ID),
    ...(typeof r.LEAD_CREATION_ERROR === 'string' ? { leadCreationError: r.LEAD_CREATION_ERROR } : {}),
  };
}

/**
 * attachRecord's answer when only FILENAME was sent: where to POST the file (`uploadUrl`) and under which form field
 * (`fieldName`, `file` when not said). No uploadUrl: Bitrix24 attached it without asking for the file.
 */
export function readAttachRecordAnswer(result: unknown): { uploadUrl?: string; fieldName: string } {
  const r = (typeof result === 'object' && result !== null ? result : {}) as Record<string, unknown>;
  return { ...(typeof r.uploadUrl === 'string' ? { uploadUrl: r.uploadUrl } : {}), fieldName: typeof r.fieldName === 'string' ? r.fieldName : 'file' };
}

export const searchCrmEntities = (phoneNumber: string): RestCall =>
  ({ method: 'telephony.externalCall.searchCrmEntities', params: { PHONE_NUMBER: phoneNumber } });
