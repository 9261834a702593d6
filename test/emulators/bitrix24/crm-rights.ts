/**
 * Per-user CRM read rights, as Bitrix24 applies them to REST calls made with a user's token (an app's OAuth token
 * and an inbound webhook act with the rights of the user they belong to: settings/oauth/index.html,
 * local-integrations/local-webhooks.html). Bitrix24 sets the rights per role and per CRM object type with a level:
 * none, own (ASSIGNED_BY_ID is the user), open (own plus records marked OPENED "available to everyone") or all;
 * portal administrators read everything. What the REST methods do with them:
 * - crm.item.get (api-reference/crm/universal/crm-item-get.md): "Who can execute the method: any user with 'read'
 *   access permission for CRM object elements"; else 400 ACCESS_DENIED "You do not have permission to view this item".
 * - crm.contact.get / crm.lead.get / crm.company.get / crm.deal.get (api-reference/crm/contacts/crm-contact-get.md):
 *   400 with an empty code and "Access denied" when the user may not read the record.
 * - list methods answer only the records the user may read; an activity is read through its owner record.
 * The emulator's default is `all` for every type (a portal where everyone reads the CRM), so rights change only what a
 * test asks for (UserInput.crmRead).
 */
import type { AuthContext } from './methods/types.js';
import type { Activity, CrmEntity, CrmEntityType, Portal } from './state.js';
import { entityTypeFromOwnerTypeId, getEntity } from './crm-store.js';

export type CrmReadLevel = 'all' | 'open' | 'own' | 'none';
export const CRM_READ_LEVELS: readonly CrmReadLevel[] = ['all', 'open', 'own', 'none'];
export type CrmReadRights = Partial<Record<CrmEntityType, CrmReadLevel>>;

/** Read rights per user id, kept beside the portal's users (absent: everyone reads everything). */
const rightsOf = new WeakMap<Portal, Map<number, CrmReadRights>>();

export function setCrmReadRights(portal: Portal, userId: number, rights: CrmReadRights): void {
  let users = rightsOf.get(portal);
  if (!users) {
    users = new Map();
    rightsOf.set(portal, users);
  }
  users.set(userId, { ...users.get(userId), ...rights });
}

export function canReadEntity(portal: Portal, auth: Pick<AuthContext, 'userId'>, entity: CrmEntity): boolean {
  if (portal.users.get(auth.userId)?.ADMIN === true) return true;
  const level = rightsOf.get(portal)?.get(auth.userId)?.[entity.type] ?? 'all';
  const own = String(entity.fields.ASSIGNED_BY_ID ?? '') === String(auth.userId);
  const opened = entity.fields.OPENED === 'Y' || entity.fields.OPENED === true;
  switch (level) {
    case 'all': return true;
    case 'open': return own || opened;
    case 'own': return own;
    case 'none': return false;
  }
}

/** An activity is visible to whoever may read its owner record, and to the user responsible for it. */
export function canReadActivity(portal: Portal, auth: Pick<AuthContext, 'userId'>, activity: Activity): boolean {
  if (activity.RESPONSIBLE_ID === auth.userId || portal.users.get(auth.userId)?.ADMIN === true) return true;
  const type = entityTypeFromOwnerTypeId(activity.OWNER_TYPE_ID);
  const owner = type ? getEntity(portal, type, activity.OWNER_ID) : undefined;
  return owner !== undefined && canReadEntity(portal, auth, owner);
}
