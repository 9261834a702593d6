import { z } from 'zod';
import { badRequest } from '../errors.js';
import type { Portal } from '../store/records.js';

/**
 * What an install gives us, from either the installer POST or the ONAPPINSTALL event, in our words: the portal's
 * own fields, with the token's lifetime as Bitrix24 gives it (the store keeps when it expires).
 */
export type InstallGrant = Pick<Portal,
  'memberId' | 'domain' | 'clientEndpoint' | 'serverEndpoint' | 'applicationToken' | 'accessToken' | 'refreshToken' | 'scope' | 'status'
> & { expiresInSeconds: number };

const nonEmpty = z.string().trim().min(1);
const seconds = z.coerce.number().int().positive().max(86_400 * 30).catch(3600);

/**
 * Installer page POST (https://apidocs.bitrix24.com/settings/app-installation/local-apps/installation-master.html,
 * reference §1.2): tokens and member_id in the form body, DOMAIN/PROTOCOL/LANG/APP_SID in the query.
 * APP_SID is a per-render frame session id, NOT the application token (CRest stores it as one — a known mistake):
 * the token that authenticates events is APPLICATION_TOKEN.
 */
const installerBody = z.object({
  AUTH_ID: nonEmpty,
  REFRESH_ID: nonEmpty,
  AUTH_EXPIRES: seconds.optional(),
  member_id: nonEmpty,
  APPLICATION_TOKEN: nonEmpty,
  SERVER_ENDPOINT: z.string().url().optional(),
  APPLICATION_SCOPE: z.string().optional(),
  status: z.string().optional(),
  PLACEMENT: z.string().optional(),
});

const installerQuery = z.object({
  DOMAIN: z.string().trim().regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'DOMAIN must be a host name'),
  PROTOCOL: z.enum(['0', '1']).optional(),
});

/** What each install source reads; the fields Bitrix24 may leave out get the same defaults from both. */
type ReadGrant = Omit<InstallGrant, 'serverEndpoint' | 'expiresInSeconds' | 'scope' | 'status'>
  & { serverEndpoint?: string | undefined; expiresInSeconds?: number | undefined; scope?: string | undefined; status?: string | undefined };

function withDefaults(read: ReadGrant, defaultServerEndpoint: string): InstallGrant {
  return {
    ...read,
    serverEndpoint: read.serverEndpoint ?? defaultServerEndpoint,
    expiresInSeconds: read.expiresInSeconds ?? 3600,
    scope: read.scope ?? '',
    status: read.status ?? 'L',
  };
}

function missing(issues: z.core.$ZodIssue[]): string {
  return issues.map((i) => i.path.join('.') || 'body').join(', ');
}

export function readInstallerPost(body: unknown, query: unknown, defaultServerEndpoint: string): InstallGrant {
  const b = installerBody.safeParse(body ?? {});
  const q = installerQuery.safeParse(query ?? {});
  if (!b.success || !q.success) {
    const issues = [...(b.success ? [] : b.error.issues), ...(q.success ? [] : q.error.issues)];
    throw badRequest(`this is the Bitrix24 installer URL: open it from Bitrix24 (missing or invalid: ${missing(issues)})`);
  }
  const scheme = q.data.PROTOCOL === '0' ? 'http' : 'https';
  return withDefaults({
    memberId: b.data.member_id,
    domain: q.data.DOMAIN,
    clientEndpoint: `${scheme}://${q.data.DOMAIN}/rest/`,
    serverEndpoint: b.data.SERVER_ENDPOINT,
    applicationToken: b.data.APPLICATION_TOKEN,
    accessToken: b.data.AUTH_ID,
    refreshToken: b.data.REFRESH_ID,
    expiresInSeconds: b.data.AUTH_EXPIRES,
    scope: b.data.APPLICATION_SCOPE,
    status: b.data.status,
  }, defaultServerEndpoint);
}

/** ONAPPINSTALL `auth[...]` (https://apidocs.bitrix24.com/api-reference/common/events/on-app-install.html). */
const installAuth = z.object({
  access_token: nonEmpty,
  refresh_token: nonEmpty,
  expires_in: seconds.optional(),
  client_endpoint: z.string().url(),
  server_endpoint: z.string().url().optional(),
  member_id: nonEmpty,
  application_token: nonEmpty,
  domain: nonEmpty,
  scope: z.string().optional(),
  status: z.string().optional(),
});

export function readInstallEventAuth(auth: unknown, defaultServerEndpoint: string): InstallGrant {
  const a = installAuth.safeParse(auth ?? {});
  if (!a.success) throw badRequest(`ONAPPINSTALL without the needed auth fields (${missing(a.error.issues)})`);
  return withDefaults({
    memberId: a.data.member_id,
    domain: a.data.domain,
    clientEndpoint: a.data.client_endpoint.endsWith('/') ? a.data.client_endpoint : `${a.data.client_endpoint}/`,
    serverEndpoint: a.data.server_endpoint,
    applicationToken: a.data.application_token,
    accessToken: a.data.access_token,
    refreshToken: a.data.refresh_token,
    expiresInSeconds: a.data.expires_in,
    scope: a.data.scope,
    status: a.data.status,
  }, defaultServerEndpoint);
}
