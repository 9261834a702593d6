/**
 * What Bitrix24 does to a deal's fields on add and update (crm.deal.fields,
 * https://apidocs.bitrix24.com/api-reference/crm/deals/crm-deal-fields.html):
 * - CONTACT_IDS (multiple) is accepted by add/update but absent from get/list; CONTACT_ID, deprecated and kept for
 *   compatibility, is the first linked contact. The emulator filters CONTACT_ID on that one contact.
 * - CLOSED follows the stage's semantics: a final stage (WON / LOSE / APOLOGY, or `C<n>:WON` … in a pipeline)
 *   closes the deal. A deal given CLOSED without a stage gets the matching final or first stage.
 * - New deals start in stage NEW of the general pipeline (CATEGORY_ID 0) with OPPORTUNITY 0.
 */
import { isTruthyFlag } from './params.js';

const DEFAULTS: Record<string, unknown> = { STAGE_ID: 'NEW', CATEGORY_ID: '0', OPPORTUNITY: '0', CURRENCY_ID: 'USD', COMPANY_ID: '0' };

export function isFinalStage(stageId: string): boolean {
  return /(^|:)(WON|LOSE|APOLOGY)$/.test(stageId.toUpperCase());
}

function contactIds(value: unknown): number[] {
  const list = Array.isArray(value) ? value : value === undefined || value === null || value === '' ? [] : [value];
  return list.map(Number).filter((n) => Number.isInteger(n) && n > 0);
}

/** The scalar fields to store for a deal: `changes` (upper-case keys) applied over `current`. */
export function dealFields(current: Record<string, unknown> | null, changes: Record<string, unknown>): Record<string, unknown> {
  const next: Record<string, unknown> = { ...(current ?? DEFAULTS), ...changes };
  if (changes.CONTACT_IDS !== undefined) next.CONTACT_ID = contactIds(changes.CONTACT_IDS)[0] ?? null;
  else if (changes.CONTACT_ID !== undefined) next.CONTACT_ID = contactIds(changes.CONTACT_ID)[0] ?? null;
  delete next.CONTACT_IDS;
  if (changes.STAGE_ID === undefined && changes.CLOSED !== undefined) {
    next.STAGE_ID = isTruthyFlag(changes.CLOSED) ? 'WON' : (current && !isFinalStage(String(current.STAGE_ID ?? '')) ? current.STAGE_ID : 'NEW');
  }
  next.CLOSED = isFinalStage(String(next.STAGE_ID ?? '')) ? 'Y' : 'N';
  return next;
}
