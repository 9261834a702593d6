import { timingSafeEqual } from 'node:crypto';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import type { Portal } from '../store/records.js';
import { unauthorized } from '../errors.js';
import type { PortalBitrixClients } from '../bitrix/client.js';
import type { InstallGrant } from './install-request.js';
import { ensureAppBindings, type SetupResult } from './setup.js';
import { assertPortalAddressAllowed, confirmNewInstall, type InstallTrust } from './install-trust.js';

export const DEFAULT_LINE_NUMBER = 'pbx-1';

export interface InstallDeps {
  store: Store;
  clients: PortalBitrixClients;
  publicUrl: string;
  log: Logger;
  now?: () => number;
  /** The trusted OAuth server and the portal-address rules a new install is checked against. */
  trust: InstallTrust;
  /** Told after a (re-)install succeeded, e.g. so the PBX supervisor reopens a link closed by an earlier uninstall. */
  onInstalled?: (memberId: string) => Promise<void> | void;
}

/** Constant-time comparison (the application token is a shared secret); unequal lengths never match. */
function sameSecret(given: string, stored: string): boolean {
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(stored, 'utf8');
  return a.length === b.length && b.length > 0 && timingSafeEqual(a, b);
}

/**
 * A known portal may only be re-installed by someone who holds its application token or whose new tokens
 * Bitrix24 accepts on the portal's stored REST base; otherwise any POST could take a tenant over.
 */
async function assertMayReplace(deps: InstallDeps, existing: Portal, grant: InstallGrant): Promise<void> {
  // Also after an uninstall or a refused refresh: Bitrix24 issues a new application token on re-install, so the
  // new access token must prove itself on the portal we know; a forged install cannot point us elsewhere.
  if (sameSecret(existing.applicationToken, grant.applicationToken)) return;
  try {
    await deps.clients.profileOf(existing, grant.accessToken);
  } catch {
    deps.log.warn({ portal: existing.memberId }, 'install refused: new tokens are not valid on the stored portal');
    throw unauthorized('this install does not come from the portal the app is connected to');
  }
}

/** An install that passed every check; only these are stored. */
export interface AdmittedGrant {
  readonly admitted: true;
  readonly grant: InstallGrant;
}

/**
 * Decides whether an install may be stored: its portal address must pass the SSRF rules; a known portal must prove
 * the install comes from it (assertMayReplace); an unknown member_id must be confirmed by the trusted OAuth server.
 * The OAuth server stored is always the configured one: tokens are refreshed there with our client_secret, so an
 * install naming another SERVER_ENDPOINT must not redirect that secret.
 */
export async function admitGrant(deps: InstallDeps, grant: InstallGrant): Promise<AdmittedGrant> {
  await assertPortalAddressAllowed(grant, deps.trust.portalAddress);
  const existing = deps.store.portals.get(grant.memberId);
  if (existing) await assertMayReplace(deps, existing, grant);
  else await confirmNewInstall(deps.trust, grant, deps.log);
  if (grant.serverEndpoint !== deps.trust.oauthServer) {
    deps.log.info({ portal: grant.memberId, named: grant.serverEndpoint }, 'install names another OAuth server; the configured one is kept');
  }
  return { admitted: true, grant: { ...grant, serverEndpoint: deps.trust.oauthServer } };
}

/**
 * Stores the portal (tokens, endpoints, application token) — durable before anything uses it. The record is
 * rebuilt, so the marks of a previous life (needsReinstall, uninstalledAt) go; settings and bindings stay.
 */
export async function storeGrant(deps: InstallDeps, admitted: AdmittedGrant): Promise<Portal> {
  const { grant } = admitted;
  const now = (deps.now ?? Date.now)();
  const existing = deps.store.portals.get(grant.memberId);
  const portal: Portal = {
    memberId: grant.memberId,
    domain: grant.domain,
    clientEndpoint: grant.clientEndpoint,
    serverEndpoint: grant.serverEndpoint,
    applicationToken: grant.applicationToken,
    accessToken: grant.accessToken,
    refreshToken: grant.refreshToken,
    expiresAt: now + grant.expiresInSeconds * 1000,
    scope: grant.scope || existing?.scope || '',
    status: grant.status,
    ratePlan: existing?.ratePlan ?? 'standard',
    lineNumber: existing?.lineNumber ?? DEFAULT_LINE_NUMBER,
    installedAt: existing && !existing.uninstalledAt ? existing.installedAt : now,
    updatedAt: now,
    installed: existing?.installed === true && !existing.uninstalledAt,
  };
  await deps.store.portals.put(portal);
  deps.clients.forget(portal.memberId);
  return portal;
}

/**
 * The whole install: store, bind events/placements/line (setup writes go directly through the client — the admin is
 * waiting on the installer page, the outbox would only delay the answer), record the detected rate plan.
 */
export async function installPortal(deps: InstallDeps, request: InstallGrant | AdmittedGrant): Promise<{ portal: Portal; setup: SetupResult }> {
  const admitted = 'admitted' in request ? request : await admitGrant(deps, request);
  const log = deps.log.child({ portal: admitted.grant.memberId });
  const stored = await storeGrant(deps, admitted);
  const setup = await ensureAppBindings({
    client: deps.clients.forPortal(stored.memberId), publicUrl: deps.publicUrl, lineNumber: stored.lineNumber, log,
  });
  const portal = await deps.store.portals.update(stored.memberId, {
    installed: true, ratePlan: setup.ratePlan, updatedAt: (deps.now ?? Date.now)(),
  });
  deps.clients.forget(stored.memberId);
  log.info({ domain: portal.domain, ratePlan: portal.ratePlan }, 'portal installed');
  try {
    await deps.onInstalled?.(stored.memberId);
  } catch (err) {
    log.error({ err }, 'after-install hook failed');
  }
  return { portal, setup };
}
