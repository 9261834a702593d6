/**
 * The call card's "Create contact" / "Create lead" for an unknown number (issue 12 point 5). Created AS THE AGENT, with
 * their own frame token (bitrix/as-user.ts), so Bitrix24's own rights decide whether they may add CRM records, and
 * Bitrix24 records them as the creator. Named as the auto-create rule of the vendor's manual names its records
 * (autocreate.ts: the prefix, then the number as the card shows it) with the WORK phone in E.164, so the next call
 * from the number finds it; the agent is responsible.
 *
 * Bitrix24 facts used: crm.contact.add / crm.lead.add answer the new id (api-reference/crm/contacts/crm-contact-add.html,
 * …/leads/crm-lead-add.html), sent as the one command of a `batch` (the user client's only door).
 */
import { addEntity } from '../bitrix/crm.js';
import type { UserAuth, UserRest } from '../bitrix/as-user.js';
import { answerError } from '../bitrix/errors.js';
import { BitrixError } from '../bitrix/types.js';
import type { Logger } from '../log.js';
import { normalizePhone } from '../phone.js';
import type { CrmRef, PortalSettings } from '../store/records.js';
import { autoCreatedName } from './autocreate.js';

export type CreatableKind = 'CONTACT' | 'LEAD';

export interface RecordCreatorDeps {
  restAs(user: UserAuth): UserRest;
  settingsOf(portal: string): PortalSettings;
  /** Tells the CRM lookup the number now has a record (its 60-s "not found" would otherwise hide it from the next call). */
  remember?(portal: string, e164: string, ref: CrmRef): void;
  log: Logger;
}

export interface CreatedRecord {
  entityType: CreatableKind;
  entityId: number;
  name: string;
}

const ADD_KEY = 'add';

export async function createRecordAsAgent(deps: RecordCreatorDeps, user: UserAuth, entityType: CreatableKind, phone: string): Promise<CreatedRecord> {
  const portal = user.portal.memberId;
  const settings = deps.settingsOf(portal);
  const e164 = normalizePhone(phone, settings.defaultCountry);
  const name = autoCreatedName(settings.autoCreate.namePrefix, phone);
  const request = addEntity(entityType, {
    // A lead's lists show TITLE, its NAME is the person: both carry the name, as auto-create does (bitrix-crm.ts addPerson).
    ...(entityType === 'LEAD' ? { title: name } : {}),
    name,
    phones: [{ value: e164, valueType: 'WORK' }],
    assignedById: user.userId,
    sourceId: 'CALL',
  });
  const answer = await deps.restAs(user).batch([{ key: ADD_KEY, method: request.method, params: request.params }]);
  const failed = answer.errors[ADD_KEY];
  if (failed) throw answerError(failed.error, failed.description);
  const raw = answer.results[ADD_KEY];
  const entityId = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw) : NaN;
  if (!Number.isInteger(entityId) || entityId <= 0) {
    throw new BitrixError('ERROR_UNEXPECTED_ANSWER', `${request.method} answered without an id`, 0, true);
  }
  deps.remember?.(portal, e164, { entityType, entityId });
  deps.log.info({ portal, userId: user.userId, entityType, entityId }, 'an agent created a CRM record from the call card');
  return { entityType, entityId, name };
}
