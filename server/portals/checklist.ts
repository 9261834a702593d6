import type { ChecklistResponse } from '../../contract/api-shapes.js';
import type { PbxLinkStatus } from '../pbx/adapter.js';
import type { Store } from '../store/types.js';

/** How many of the newest calls are looked at for a click-to-call or a registered call (the list is newest first). */
const RECENT_CALLS = 200;

/**
 * The first-run checklist (issue 12 point 6): connect the PBX → bind users → make the app the default line for
 * click-to-call → place a test call, each step read from the portal's state.
 *
 * The default-line step cannot be read from Bitrix24: `voximplant.line.outgoing.get` answers the portal-wide default
 * as a Voximplant line id ("numeric for rented numbers, regXXX for cloud PBX, sipXXX for office PBX",
 * https://dev.1c-bitrix.ru/rest_help/scope_telephony/voximplant/voximplant_line_outgoing_get.php), with no documented
 * id for a REST app's external line, needs the "manage numbers" permission, and says nothing of an employee's own
 * default (reference bitrix24-api.md §3.9, marked UNCONFIRMED). So an admin ticks it after following the shown
 * instructions (stored on the portal), and it ticks by itself once Bitrix24 has sent us a click-to-call
 * (ONEXTERNALCALLSTART only reaches the app that is someone's default line).
 */
export function firstRunChecklist(store: Store, link: PbxLinkStatus, memberId: string): ChecklistResponse {
  const settings = store.settings.get(memberId);
  const recent = store.calls.listRecent(memberId, { limit: RECENT_CALLS });
  const connect = settings.enabled && settings.pbx !== null && link.state === 'connected';
  const bind = store.bindings.list(memberId).length > 0;
  const confirmedByAdmin = (store.portals.get(memberId)?.defaultLineConfirmedAt ?? 0) > 0;
  const clickToCallSeen = recent.some((call) => call.origin === 'click-to-call');
  const defaultLine = confirmedByAdmin || clickToCallSeen;
  // A call Bitrix24 knows (registered, or created by Bitrix24 for a click-to-call): the admin saw it in the CRM.
  const testCall = recent.some((call) => call.b24CallId !== undefined);
  return {
    connect,
    bind,
    defaultLine,
    defaultLineBy: confirmedByAdmin ? 'admin' : clickToCallSeen ? 'click-to-call' : null,
    testCall,
    done: connect && bind && defaultLine && testCall,
  };
}
