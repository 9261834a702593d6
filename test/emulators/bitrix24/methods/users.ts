/**
 * profile, user.current, user.admin, user.get, app.info.
 * https://apidocs.bitrix24.com/api-reference/user/user-get.html, …/user/user-current.html,
 * https://apidocs.bitrix24.com/api-reference/common/users/profile.html,
 * https://apidocs.bitrix24.com/api-reference/common/system/app-info.html
 */
import { RestError } from '../errors.js';
import { isRecord, pickInt, pickRecord, type Params } from '../params.js';
import type { Portal, User } from '../state.js';
import { ok, page, type MethodTable } from './types.js';

export function userView(user: User): Record<string, unknown> {
  return {
    ID: String(user.ID),
    XML_ID: '',
    ACTIVE: user.ACTIVE,
    NAME: user.NAME,
    LAST_NAME: user.LAST_NAME,
    SECOND_NAME: '',
    EMAIL: user.EMAIL,
    PERSONAL_GENDER: '',
    PERSONAL_MOBILE: user.PERSONAL_MOBILE,
    WORK_PHONE: user.WORK_PHONE,
    WORK_POSITION: '',
    IS_ONLINE: 'N',
    TIME_ZONE: '',
    UF_DEPARTMENT: [1],
    UF_PHONE_INNER: user.UF_PHONE_INNER === '' ? null : user.UF_PHONE_INNER,
    USER_TYPE: 'employee',
  };
}

function requireUser(portal: Portal, userId: number): User {
  const user = portal.users.get(userId);
  if (!user) throw new RestError('NO_AUTH_FOUND', 'Wrong authorization data', 401);
  return user;
}

/** Filter keys of user.get: exact match, optional `!`/`%` prefixes; values compared as strings. */
function matchesFilter(user: User, filter: Record<string, unknown>): boolean {
  const view = userView(user);
  for (const [rawKey, expected] of Object.entries(filter)) {
    const op = /^(!|%|=)?(.*)$/.exec(rawKey);
    const operator = op?.[1] ?? '';
    const key = (op?.[2] ?? rawKey).toUpperCase();
    if (['SORT', 'ORDER', 'ADMIN_MODE', 'START', 'SELECT'].includes(key)) continue;
    let actual: unknown = view[key];
    if (key === 'ACTIVE') actual = user.ACTIVE ? 'Y' : 'N';
    const norm = (v: unknown): string => {
      if (v === true) return 'Y';
      if (v === false) return 'N';
      if (v === null || v === undefined) return '';
      return String(v);
    };
    const want = Array.isArray(expected) ? expected.map(norm) : [norm(key === 'ACTIVE' && expected === 'true' ? true : key === 'ACTIVE' && expected === 'false' ? false : expected)];
    const have = norm(actual);
    if (operator === '%') {
      if (!want.some((w) => have.toLowerCase().includes(w.toLowerCase()))) return false;
    } else if (operator === '!') {
      if (want.includes(have)) return false;
    } else if (key === 'NAME_SEARCH') {
      const hay = `${user.NAME} ${user.LAST_NAME}`.toLowerCase();
      if (!want.some((w) => hay.includes(w.toLowerCase()))) return false;
    } else if (!want.includes(have)) {
      return false;
    }
  }
  return true;
}

function userFilter(params: Params): Record<string, unknown> {
  const explicit = pickRecord(params, 'FILTER', 'filter');
  if (explicit) return explicit;
  // The docs' example also passes filter fields at the top level.
  const top: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) {
    if (['sort', 'order', 'start', 'select', 'admin_mode', 'image_resize'].includes(k.toLowerCase())) continue;
    if (!isRecord(v)) top[k] = v;
  }
  return top;
}

export const userMethods: MethodTable = {
  profile: {
    run: ({ portal, auth }) => {
      const user = requireUser(portal, auth.userId);
      return ok({ ID: String(user.ID), ADMIN: user.ADMIN, NAME: user.NAME, LAST_NAME: user.LAST_NAME, PERSONAL_GENDER: '', TIME_ZONE: '' });
    },
  },
  'user.current': { run: ({ portal, auth }) => ok(userView(requireUser(portal, auth.userId))) },
  'user.admin': { run: ({ portal, auth }) => ok(requireUser(portal, auth.userId).ADMIN) },
  'user.get': {
    run: ({ portal, params }) => {
      const filter = userFilter(params);
      const id = pickInt(params, 'ID', 'id');
      const users = [...portal.users.values()]
        .filter((u) => (id === undefined ? true : u.ID === id))
        .filter((u) => matchesFilter(u, filter))
        .sort((a, b) => a.ID - b.ID)
        .map(userView);
      return page(users, pickInt(params, 'start', 'START'));
    },
  },
  'app.info': {
    run: ({ portal }) =>
      ok({
        ID: 1,
        CODE: 'local.emulated',
        VERSION: 1,
        STATUS: 'L',
        INSTALLED: portal.installed,
        PAYMENT_EXPIRED: 'N',
        DAYS: null,
        LANGUAGE_ID: portal.langId,
        LICENSE: portal.plan === 'enterprise' ? 'en_ent250' : 'en_std',
        LICENSE_TYPE: portal.plan === 'enterprise' ? 'ent250' : 'std',
        LICENSE_FAMILY: portal.plan === 'enterprise' ? 'ent' : 'std',
      }),
  },
};
