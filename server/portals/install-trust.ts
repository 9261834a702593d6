import { z } from 'zod';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { AppError, unauthorized } from '../errors.js';
import { createAddressGuard, type AddressPolicy } from '../net/address-policy.js';
import type { InstallGrant } from './install-request.js';

/**
 * What an install is checked against. Everything in an install request (member_id, DOMAIN, client_endpoint,
 * SERVER_ENDPOINT, tokens) is the requester's word; the configured OAuth server is the one party we trust.
 */
export interface InstallTrust {
  /** REST base of the trusted OAuth server, e.g. https://oauth.bitrix.info/rest/ (config B24_OAUTH_SERVER). */
  oauthServer: string;
  /** Our app's client_id; when set, the install's token must have been issued to this app. */
  clientId: string;
  /** SSRF rules for the portal address an install names (B24_ALLOW_LOOPBACK / B24_ALLOW_PRIVATE). */
  portalAddress: AddressPolicy;
  /** Replaces the global fetch (tests). */
  fetch?: typeof fetch;
  /** Bound on the app.info call; default 10 s. */
  timeoutMs?: number;
}

export function installTrustFrom(config: Config): InstallTrust {
  return {
    oauthServer: config.b24OAuthServer,
    clientId: config.b24ClientId,
    portalAddress: { allowLoopback: config.b24AllowLoopback, allowPrivate: config.b24AllowPrivate },
  };
}

const portalGuard = createAddressGuard({
  subject: 'the portal address',
  example: 'https://example.bitrix24.com/rest/',
  loopbackHint: 'set B24_ALLOW_LOOPBACK=1 to allow it',
  privateHint: 'set B24_ALLOW_PRIVATE=1 if the Bitrix24 server is on your LAN',
  hostName: 'the portal host name',
  refused: (reason) => new AppError('PORTAL_ADDRESS_REFUSED', `install refused: ${reason}`, 400),
  unreachable: (reason) => new AppError('PORTAL_ADDRESS_REFUSED', `install refused: ${reason}`, 400),
});

/**
 * The server will call the portal's client_endpoint with the portal's tokens, so an install may not name an address
 * that reaches the metadata service or this host's own services (SSRF). DOMAIN is checked too: it is stored and
 * shown as the portal's address.
 */
export async function assertPortalAddressAllowed(grant: InstallGrant, policy: AddressPolicy): Promise<void> {
  await portalGuard.assertUrlAllowed(grant.clientEndpoint, policy);
  await portalGuard.assertUrlAllowed(`https://${grant.domain}/`, policy);
}

/**
 * app.info on the OAuth server answers for the token's own installation (the official Python SDK,
 * bitrix24/b24pysdk api/responses/bitrix_app_info_response.py, GET <oauth>/rest/app.info/?auth=…):
 * `{result: {client_id, scope, expires, user_id, install: {installed, version, status, scope, domain, uri,
 * client_endpoint, member_id, member_type}}}`. The "trusted value" note on the app page:
 * https://apidocs.bitrix24.com/settings/oauth/simple-way.html ("to obtain a trusted value, use oauth.bitrix.info/rest/app.info").
 */
const oauthAppInfo = z.object({
  result: z.object({
    client_id: z.string(),
    install: z.object({
      member_id: z.string(),
      domain: z.string(),
      client_endpoint: z.string(),
    }).loose(),
  }).loose(),
});

export type TrustedInstall = z.infer<typeof oauthAppInfo>['result'];

function withSlash(base: string): string {
  return base.endsWith('/') ? base : `${base}/`;
}

/** Scheme, lower-case host with port, path with one trailing slash: the form two endpoints are compared in. */
function endpointKey(raw: string): string | null {
  try {
    const url = new URL(raw);
    return `${url.protocol}//${url.host.toLowerCase()}${withSlash(url.pathname)}`;
  } catch {
    return null;
  }
}

/** The fields in which the install request and the OAuth server's answer disagree (empty: they agree). */
export function mismatchesOf(grant: InstallGrant, trusted: TrustedInstall, clientId: string): string[] {
  const out: string[] = [];
  if (trusted.install.member_id !== grant.memberId) out.push('member_id');
  if (trusted.install.domain.toLowerCase() !== grant.domain.toLowerCase()) out.push('domain');
  const endpoint = endpointKey(grant.clientEndpoint);
  if (endpoint === null || endpoint !== endpointKey(trusted.install.client_endpoint)) out.push('client_endpoint');
  if (clientId !== '' && trusted.client_id !== clientId) out.push('client_id');
  return out;
}

/**
 * Asks the trusted OAuth server whose tokens these are. The token goes in the query string because that is how the
 * OAuth server's app.info is called (b24pysdk above); the URL is therefore never logged, and redirects are not
 * followed (a redirect could carry the token elsewhere).
 */
async function askOAuthServer(trust: InstallTrust, accessToken: string): Promise<{ status: number; body: unknown }> {
  const url = new URL('app.info', withSlash(trust.oauthServer));
  url.searchParams.set('auth', accessToken);
  const doFetch = trust.fetch ?? fetch;
  let response: Response;
  try {
    response = await doFetch(url, { method: 'GET', redirect: 'error', signal: AbortSignal.timeout(trust.timeoutMs ?? 10_000) });
  } catch {
    throw new AppError('OAUTH_SERVER_UNREACHABLE', 'the Bitrix24 OAuth server could not be reached to confirm this install; try again in a minute', 503);
  }
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) as unknown };
  } catch {
    return { status: response.status, body: null };
  }
}

/**
 * An install — of a member_id we do not know, and equally a re-install of one we do (issue 10: the re-install path
 * once trusted the request's word) — is admitted only when the trusted OAuth server confirms it: its tokens are valid
 * and belong to that member_id, domain and client endpoint (and to our app). Otherwise 401, one log line, nothing
 * stored. The name stays for its callers; it is the check for every install grant (install.ts admitGrant).
 */
export async function confirmNewInstall(trust: InstallTrust, grant: InstallGrant, log: Logger): Promise<TrustedInstall> {
  const answer = await askOAuthServer(trust, grant.accessToken);
  const parsed = oauthAppInfo.safeParse(answer.body);
  if (answer.status !== 200 || !parsed.success) {
    const error = typeof answer.body === 'object' && answer.body !== null && 'error' in answer.body ? String((answer.body as { error: unknown }).error) : undefined;
    log.warn({ portal: grant.memberId, domain: grant.domain, status: answer.status, error }, 'install refused: the OAuth server does not confirm these tokens');
    throw unauthorized('install refused: the Bitrix24 OAuth server does not confirm these tokens; open the app from your Bitrix24 portal again');
  }
  const mismatches = mismatchesOf(grant, parsed.data.result, trust.clientId);
  if (mismatches.length > 0) {
    log.warn({ portal: grant.memberId, domain: grant.domain, mismatches }, 'install refused: the OAuth server names another installation');
    throw unauthorized(`install refused: the tokens belong to another installation (${mismatches.join(', ')} differ)`);
  }
  return parsed.data.result;
}
