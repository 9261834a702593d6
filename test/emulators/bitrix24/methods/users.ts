/**
 * profile, user.current, user.admin, user.get, app.info.
 * https://apidocs.bitrix24.com/api-reference/user/user-get.html, …/user/user-current.html,
 * https://apidocs.bitrix24.com/api-reference/common/users/profile.html,
 * https://apidocs.bitrix24.com/api-reference/common/system/app-info.html
 */
import { RestError } from '../errors.js';
import { isRecord, pickInt, pickRecord, pickString, type Params } from '../params.js';
import { clientIdOf, type Portal, type User } from '../state.js';
import { matchesCrmFilterValue } from './filter.js';
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

/**
 * What `user_basic` adds to `user_brief`: the contact data (dev.1c-bitrix.ru/rest_help/users/index.php; the b24jssdk
 * UserBrief/UserBasic types list EMAIL, PERSONAL_* phones and WORK_PHONE under user_basic, UF_PHONE_INNER already
 * under user_brief). A caller with only `user_brief` gets the user without them.
 */
const CONTACT_FIELDS = ['EMAIL', 'PERSONAL_MOBILE', 'WORK_PHONE'];

function viewFor(scopes: string[] | undefined): (user: User) => Record<string, unknown> {
  const granted = new Set((scopes ?? ['user']).map((s) => s.trim().toLowerCase()));
  if (granted.has('user') || granted.has('user_basic')) return userView;
  return (user) => Object.fromEntries(Object.entries(userView(user)).filter(([k]) => !CONTACT_FIELDS.includes(k)));
}

function requireUser(portal: Portal, userId: number): User {
  const user = portal.users.get(userId);
  if (!user) throw new RestError('NO_AUTH_FOUND', 'Wrong authorization data', 401);
  return user;
}

function flag(v: unknown): unknown {
  if (v === true || v === 'true') return 'Y';
  if (v === false || v === 'false') return 'N';
  return v;
}

/**
 * user.get FILTER: any user field with the CRM prefix operators (`>ID` for the "> last id" paging the SDK uses),
 * ACTIVE as Y/N or boolean, NAME_SEARCH over first and last name.
 */
function matchesFilter(user: User, filter: Record<string, unknown>): boolean {
  const view: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(userView(user))) view[k] = flag(v);
  view.ACTIVE = user.ACTIVE ? 'Y' : 'N';
  view.ADMIN = user.ADMIN ? 'Y' : 'N';
  for (const [rawKey, expected] of Object.entries(filter)) {
    const key = rawKey.toUpperCase();
    if (['SORT', 'ORDER', 'ADMIN_MODE', 'START', 'SELECT'].includes(key)) continue;
    if (key === 'NAME_SEARCH') {
      const hay = `${user.NAME} ${user.LAST_NAME}`.toLowerCase();
      if (!hay.includes(String(expected).toLowerCase())) return false;
      continue;
    }
    const want = Array.isArray(expected) ? expected.map(flag) : flag(expected);
    if (!matchesCrmFilterValue(key, view, want)) return false;
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
  'user.current': { run: ({ portal, auth, scopes }) => ok(viewFor(scopes)(requireUser(portal, auth.userId))) },
  'user.admin': { run: ({ portal, auth }) => ok(requireUser(portal, auth.userId).ADMIN) },
  'user.get': {
    run: ({ portal, params, scopes }) => {
      const filter = userFilter(params);
      const id = pickInt(params, 'ID', 'id');
      const sortField = (pickString(params, 'sort', 'SORT') ?? 'ID').toUpperCase();
      const desc = (pickString(params, 'order', 'ORDER') ?? 'ASC').toUpperCase() === 'DESC';
      const key = (u: User): string | number => (sortField === 'ID' ? u.ID : String(userView(u)[sortField] ?? ''));
      const users = [...portal.users.values()]
        .filter((u) => (id === undefined ? true : u.ID === id))
        .filter((u) => matchesFilter(u, filter))
        .sort((a, b) => {
          const ka = key(a);
          const kb = key(b);
          const c = ka < kb ? -1 : ka > kb ? 1 : 0;
          return desc ? -c : c;
        })
        .map(viewFor(scopes));
      return page(users, pickInt(params, 'start', 'START'));
    },
  },
  // app.info answers for the CALLING application (the one the token was issued to). For a local app its CODE has the
  // form of its client_id (dev.1c-bitrix.ru/rest_help/general/app_info.php: "CODE":"local.56017020f07e17.98523769"),
  // and the emulated app is a local app: CODE = the token's client_id.
  'app.info': {
    run: ({ state, portal, accessToken }) => {
      const token = (accessToken === null ? undefined : state.accessTokens.get(accessToken)) ?? {};
      const code = clientIdOf(state, token);
      return ok({
        // ID: the app's local id on the portal — ours is 1, any other app 2.
        ID: code === state.config.clientId ? 1 : 2,
        CODE: code,
        VERSION: 1,
        STATUS: 'L',
        INSTALLED: portal.installed,
        PAYMENT_EXPIRED: 'N',
        DAYS: null,
        LANGUAGE_ID: portal.langId,
        LICENSE: `${portal.region}_${portal.plan === 'enterprise' ? 'ent250' : 'std'}`,
        LICENSE_TYPE: portal.plan === 'enterprise' ? 'ent250' : 'std',
        LICENSE_FAMILY: portal.plan === 'enterprise' ? 'ent' : 'std',
      });
    },
  },
};
