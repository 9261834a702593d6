/**
 * telephony.externalCall.register / show / hide / finish / searchCrmEntities.
 * register, finish: application context only (WRONG_AUTH_TYPE with a webhook).
 * https://apidocs.bitrix24.com/api-reference/telephony/telephony-external-call-register.html,
 * …/telephony-external-call-show.html, …/telephony-external-call-hide.html,
 * …/telephony-external-call-finish.html, …/telephony-external-call-search-crm-entities.html
 */
import { displayName, findByPhone } from '../crm-store.js';
import { RestError, coreError } from '../errors.js';
import { isTruthyFlag, pick, pickInt, pickString } from '../params.js';
import { isSupportedPhoneNumber } from '../phone.js';
import type { CallRecord, CrmEntityType, Portal } from '../state.js';
import {
  autoCreateLead,
  bindingFor,
  createCallActivity,
  crmEntityExists,
  findDuplicateCall,
  newCallId,
  resolveUser,
} from '../telephony.js';
import { isoWithOffset } from '../time-envelope.js';
import { ok, type MethodTable } from './types.js';

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

function registerResult(call: CallRecord): Record<string, unknown> {
  const createdLead = call.crmCreatedEntities.find((e) => e.ENTITY_TYPE === 'LEAD');
  return {
    CALL_ID: call.callId,
    CRM_CREATED_LEAD: createdLead ? createdLead.ENTITY_ID : null,
    CRM_CREATED_ENTITIES: call.crmCreatedEntities,
    CRM_ENTITY_TYPE: call.crmEntityType,
    CRM_ENTITY_ID: call.crmEntityId,
  };
}

function userIds(value: unknown): number[] {
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return list.map((v) => Number(v)).filter((n) => Number.isInteger(n) && n > 0);
}

function callOf(portal: Portal, callId: string | undefined): CallRecord | undefined {
  return callId ? portal.calls.get(callId) : undefined;
}

export const callMethods: MethodTable = {
  'telephony.externalcall.register': {
    appContextOnly: true,
    run: ({ portal, params, state }) => {
      const user = resolveUser(portal, pickInt(params, 'USER_ID'), pickString(params, 'USER_PHONE_INNER'));
      const type = pickInt(params, 'TYPE');
      if (type === undefined || type < 1 || type > 5) throw coreError('Unknown TYPE');
      const phone = pickString(params, 'PHONE_NUMBER') ?? '';
      if (!isSupportedPhoneNumber(phone)) throw coreError('Unsupported phone number format');
      const startDate = pickString(params, 'CALL_START_DATE');
      if (startDate !== undefined && startDate !== '' && !ISO_8601.test(startDate)) {
        throw coreError('CALL_START_DATE should be in the ISO-8601 format');
      }
      const lineNumber = pickString(params, 'LINE_NUMBER') ?? '';
      const externalCallId = pickString(params, 'EXTERNAL_CALL_ID') ?? null;
      const duplicate = findDuplicateCall(portal, { phoneNumber: phone, type, userId: user.ID, lineNumber, externalCallId });
      if (duplicate) return ok(registerResult(duplicate));

      let binding: { type: CrmEntityType; id: number } | null = null;
      const forcedType = pickString(params, 'CRM_ENTITY_TYPE')?.toUpperCase();
      const forcedId = pickInt(params, 'CRM_ENTITY_ID');
      if ((forcedType === 'CONTACT' || forcedType === 'COMPANY' || forcedType === 'LEAD') && forcedId !== undefined) {
        if (crmEntityExists(portal, forcedType, forcedId)) binding = { type: forcedType, id: forcedId };
      }
      binding ??= bindingFor(portal, phone);
      const created: CallRecord['crmCreatedEntities'] = [];
      const line = portal.lines.get(lineNumber);
      const autoCreate = isTruthyFlag(pick(params, 'CRM_CREATE')) || (type === 1 && line?.CRM_AUTO_CREATE === 'Y');
      if (!binding && autoCreate) {
        binding = autoCreateLead(portal, phone, type, user.ID);
        created.push({ ENTITY_TYPE: 'LEAD', ENTITY_ID: binding.id });
        state.emitEvent?.(portal.memberId, 'ONCRMLEADADD', { FIELDS: { ID: String(binding.id) } });
      }
      const show = pickInt(params, 'SHOW') ?? 1;
      const call: CallRecord = {
        callId: newCallId(),
        userId: user.ID,
        phoneNumber: phone,
        type,
        lineNumber,
        externalCallId,
        registeredAt: Date.now(),
        startDate: startDate && startDate !== '' ? startDate : isoWithOffset(Date.now()),
        crmEntityType: binding?.type ?? '',
        crmEntityId: binding?.id ?? null,
        crmCreatedEntities: created,
        origin: 'register',
        registerParams: { ...params },
        shownTo: show === 0 ? [] : [user.ID],
        showHistory: show === 0 ? [] : [{ action: 'show', userIds: [user.ID], at: Date.now() }],
        finished: null,
        records: [],
      };
      portal.calls.set(call.callId, call);
      return ok(registerResult(call));
    },
  },
  'telephony.externalcall.show': {
    run: ({ portal, params }) => {
      const call = callOf(portal, pickString(params, 'CALL_ID'));
      if (!call || call.finished) return ok(false);
      const ids = userIds(pick(params, 'USER_ID'));
      const targets = ids.length > 0 ? ids : [call.userId];
      for (const id of targets) if (!call.shownTo.includes(id)) call.shownTo.push(id);
      call.showHistory.push({ action: 'show', userIds: targets, at: Date.now() });
      return ok(true);
    },
  },
  'telephony.externalcall.hide': {
    run: ({ portal, params }) => {
      const call = callOf(portal, pickString(params, 'CALL_ID'));
      if (!call || call.finished) return ok(false);
      const ids = userIds(pick(params, 'USER_ID'));
      const targets = ids.length > 0 ? ids : [call.userId];
      call.shownTo = call.shownTo.filter((id) => !targets.includes(id));
      call.showHistory.push({ action: 'hide', userIds: targets, at: Date.now() });
      return ok(true);
    },
  },
  'telephony.externalcall.finish': {
    appContextOnly: true,
    run: ({ portal, params }) => {
      const rawCallId = pick(params, 'CALL_ID');
      if (typeof rawCallId !== 'string') {
        throw new RestError('INVALID_ARGUMENT', 'CALL_ID must be a string', 400);
      }
      const user = resolveUser(portal, pickInt(params, 'USER_ID'), pickString(params, 'USER_PHONE_INNER'));
      const call = callOf(portal, rawCallId);
      if (!call || call.finished) throw coreError('Call is not found (call should be registered prior to finishing)');
      const duration = Math.max(0, pickInt(params, 'DURATION') ?? 0);
      const statusCode = pickString(params, 'STATUS_CODE') ?? (duration > 0 ? '200' : '304');
      const vote = pickInt(params, 'VOTE');
      const activityId = createCallActivity(portal, call, user.ID, duration, statusCode);
      const statistic: Record<string, unknown> = {
        CALL_ID: call.callId,
        EXTERNAL_CALL_ID: call.externalCallId,
        PORTAL_USER_ID: user.ID,
        PHONE_NUMBER: call.phoneNumber,
        PORTAL_NUMBER: call.lineNumber === '' ? 'REST_APP:1' : call.lineNumber,
        INCOMING: String(call.type),
        CALL_DURATION: duration,
        CALL_START_DATE: {},
        CALL_STATUS: statusCode === '200' ? 1 : 0,
        CALL_VOTE: vote ?? null,
        COST: Number(pickString(params, 'COST') ?? 0) || 0,
        COST_CURRENCY: pickString(params, 'COST_CURRENCY') ?? '',
        CALL_FAILED_CODE: statusCode,
        CALL_FAILED_REASON: pickString(params, 'FAILED_REASON') ?? '',
        REST_APP_ID: '1',
        REST_APP_NAME: 'Emulated app',
        CRM_ACTIVITY_ID: activityId,
        COMMENT: null,
        CRM_ENTITY_TYPE: call.crmEntityType,
        CRM_ENTITY_ID: call.crmEntityId,
        ID: portal.nextStatisticId++,
      };
      call.finished = { params: { ...params }, statistic, at: Date.now() };
      call.shownTo = [];
      return ok(statistic);
    },
  },
  'telephony.externalcall.searchcrmentities': {
    run: ({ portal, params }) => {
      const phone = pickString(params, 'PHONE_NUMBER') ?? '';
      if (phone.trim() === '') throw coreError('PHONE_NUMBER is empty');
      return ok(
        findByPhone(portal, phone, ['CONTACT', 'COMPANY', 'LEAD']).map((e) => {
          const assignedId = Number(e.fields.ASSIGNED_BY_ID ?? 0);
          const assigned = portal.users.get(assignedId);
          return {
            CRM_ENTITY_TYPE: e.type,
            CRM_ENTITY_ID: e.id,
            ASSIGNED_BY_ID: assignedId,
            NAME: displayName(e),
            ASSIGNED_BY: {
              ID: String(assignedId),
              TIMEMAN_STATUS: 'NOT_INSTALLED',
              USER_PHONE_INNER: assigned && assigned.UF_PHONE_INNER !== '' ? assigned.UF_PHONE_INNER : null,
              WORK_PHONE: assigned?.WORK_PHONE || null,
              PERSONAL_PHONE: null,
              PERSONAL_MOBILE: assigned?.PERSONAL_MOBILE || null,
            },
          };
        }),
      );
    },
  },
};

