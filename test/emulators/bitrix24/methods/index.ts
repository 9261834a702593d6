/** Every REST method the emulated portal knows, keyed by lower-case name (method names are case-insensitive). */
import { activityMethods } from './activities.js';
import { bindingMethods } from './bindings.js';
import { callMethods } from './calls.js';
import { crmItemMethods } from './crm-item.js';
import { crmMethods } from './crm.js';
import { lineMethods } from './lines.js';
import { recordMethods } from './records.js';
import { statusMethods } from './statuses.js';
import { taskMethods } from './tasks.js';
import type { MethodTable } from './types.js';
import { userMethods } from './users.js';

export function allMethods(): MethodTable {
  const table: MethodTable = {
    ...userMethods,
    ...bindingMethods,
    ...lineMethods,
    ...callMethods,
    ...recordMethods,
    ...crmMethods,
    ...crmItemMethods,
    ...activityMethods,
    ...statusMethods,
    ...taskMethods,
  };
  return Object.fromEntries(Object.entries(table).map(([k, v]) => [k.toLowerCase(), v]));
}
