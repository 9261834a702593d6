/**
 * Scopes: a token (or webhook) may call a method only if it was granted the method's scope, else
 * 403 insufficient_scope. https://apidocs.bitrix24.com/api-reference/scopes/permissions.html,
 * https://apidocs.bitrix24.com/_includes/system-errors.html
 */
import { RestError } from './errors.js';

/** Scopes the emulated app was registered with, unless configured otherwise. */
export const DEFAULT_APP_SCOPES = ['crm', 'telephony', 'user_basic', 'placement', 'im', 'task'];

/** Any one of these grants the method; an empty list = scope `basic`, always granted. */
export function scopesFor(method: string): string[] {
  const m = method.toLowerCase();
  if (m.startsWith('telephony.')) return ['telephony'];
  if (m.startsWith('crm.')) return ['crm'];
  if (m.startsWith('im.')) return ['im'];
  if (m.startsWith('placement.')) return ['placement'];
  // tasks.task.* and the classic task.* methods (task.commentitem.add): scope `task`.
  if (m.startsWith('tasks.') || m.startsWith('task.')) return ['task'];
  if (m.startsWith('user.')) return ['user', 'user_basic', 'user_brief'];
  return [];
}

/** `user` includes what `user_basic` and `user_brief` give. */
function expand(granted: string[]): Set<string> {
  const out = new Set(granted.map((s) => s.trim().toLowerCase()).filter((s) => s !== ''));
  if (out.has('user')) {
    out.add('user_basic');
    out.add('user_brief');
  }
  return out;
}

export function checkScope(method: string, granted: string[]): void {
  const needed = scopesFor(method);
  if (needed.length === 0) return;
  const have = expand(granted);
  if (!needed.some((s) => have.has(s))) {
    throw new RestError('insufficient_scope', 'The request requires higher privileges than provided by the access token', 403);
  }
}
