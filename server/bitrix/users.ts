/**
 * user.get (all pages), profile, user.current, user.admin (https://apidocs.bitrix24.com/api-reference/user/user-get.html).
 */
import type { BitrixClient } from './types.js';

export interface B24User {
  id: number;
  active: boolean;
  name: string;
  lastName: string;
  email: string;
  /** UF_PHONE_INNER: the user's extension in Bitrix24. */
  innerPhone: string;
}

const str = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

export function readUser(row: unknown): B24User | undefined {
  if (typeof row !== 'object' || row === null) return undefined;
  const r = row as Record<string, unknown>;
  const id = Number(r.ID);
  if (!Number.isInteger(id) || id <= 0) return undefined;
  return {
    id,
    active: r.ACTIVE === true || r.ACTIVE === 'Y' || r.ACTIVE === '1' || r.ACTIVE === 1,
    name: str(r.NAME),
    lastName: str(r.LAST_NAME),
    email: str(r.EMAIL),
    innerPhone: str(r.UF_PHONE_INNER),
  };
}

/** Active employees, every page. */
export async function listActiveUsers(client: BitrixClient): Promise<B24User[]> {
  const rows = await client.list<unknown>('user.get', { FILTER: { ACTIVE: true }, sort: 'ID', order: 'ASC' });
  return rows.flatMap((r) => readUser(r) ?? []);
}

/** An employee as contacts/ binds and names them: a display name made of what Bitrix24 has. */
export interface CrmUser {
  id: number;
  name: string;
  email: string;
  /** UF_PHONE_INNER: the user's internal number in Bitrix24. */
  innerPhone: string;
}

/**
 * Active users, all pages. Auto-bind needs EMAIL, which `user_basic` gives (contact data; `user_brief` leaves it out)
 * and UF_PHONE_INNER, which already `user_brief` gives: the full `user` scope (edit and invite users) is not needed.
 * Field lists per scope: https://dev.1c-bitrix.ru/rest_help/users/index.php and the b24jssdk UserBrief/UserBasic types.
 */
export async function listActiveEmployees(client: BitrixClient): Promise<CrmUser[]> {
  // user.get may ignore FILTER on some boxes; an inactive user must never be bound.
  return (await listActiveUsers(client)).filter((u) => u.active).map((u) => ({
    id: u.id,
    name: [u.name.trim(), u.lastName.trim()].filter(Boolean).join(' ') || u.email.trim() || `#${u.id}`,
    email: u.email.trim(),
    innerPhone: u.innerPhone.trim(),
  }));
}

export async function isAdmin(client: BitrixClient): Promise<boolean> {
  const answer = await client.call<unknown>('user.admin');
  return answer === true || answer === 'Y' || answer === 1;
}
