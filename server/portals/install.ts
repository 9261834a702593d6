import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import type { Portal } from '../store/records.js';
import { AppError, forbidden, unauthorized } from '../errors.js';
import { BitrixError } from '../bitrix/types.js';
import type { FrameProfile, PortalBitrixClients } from '../bitrix/client.js';
import type { InstallGrant } from './install-request.js';
import { portalCountry, settingsWithPortalCountry } from './country.js';
import { ensureAppBindings, type SetupResult } from './setup.js';
import { assertPortalAddressAllowed, confirmNewInstall, type InstallTrust } from './install-trust.js';

export const DEFAULT_LINE_NUMBER = 'pbx-1';

export interface InstallDeps {
  store: Store;
  clients: PortalBitrixClients;
  publicUrl: string;
  log: Logger;
  now?: () => number;
  /** The trusted OAuth server and the portal-address rules every install (new or re-install) is checked against. */
  trust: InstallTrust;
  /** Drops the frame-auth verdicts cached for a portal (http/middleware/frame-auth.ts forgetPortal). */
  forgetFrameAuth?: (memberId: string) => void;
  /** Told after a (re-)install succeeded, e.g. so the PBX supervisor reopens a link closed by an earlier uninstall. */
  onInstalled?: (memberId: string) => Promise<void> | void;
}

/**
 * Installing is an administrator's act (b24restdocs settings/app-installation/index.md: "must be done by a portal
 * administrator"), and the installing token is that user's own. So the token is asked on the portal the OAuth server
 * just confirmed (never the stored address nor the one the request names unconfirmed) who its user is: `profile`
 * ADMIN (api-reference/common/users/profile.md), in the same batch as app.info (bitrix/frame-check.ts). A plain
 * employee's token — valid, and confirmed by the OAuth server for this very portal — is refused: 403, nothing stored.
 */
async function assertInstalledByAdmin(deps: InstallDeps, grant: InstallGrant): Promise<void> {
  let profile: FrameProfile;
  try {
    profile = await deps.clients.profileOf({
      memberId: grant.memberId, domain: grant.domain, clientEndpoint: grant.clientEndpoint, serverEndpoint: deps.trust.oauthServer,
      scope: grant.scope, status: grant.status,
    }, grant.accessToken);
  } catch (err) {
    if (err instanceof BitrixError && !err.retryable) {
      deps.log.warn({ portal: grant.memberId, code: err.code }, 'install refused: the portal does not accept the installing token');
      throw unauthorized('install refused: the portal does not accept the installing token; open the app from your Bitrix24 portal again');
    }
    throw new AppError('BITRIX_UNAVAILABLE', 'the portal could not be reached to check the installing user; try again in a minute', 503, undefined, err);
  }
  if (!profile.isAdmin) {
    deps.log.warn({ portal: grant.memberId, userId: profile.userId }, 'install refused: the installing user is not a portal administrator');
    throw forbidden('install refused: only a Bitrix24 administrator can install or re-install the app');
  }
}

/** An install that passed every check; only these are stored. */
export interface AdmittedGrant {
  readonly admitted: true;
  readonly grant: InstallGrant;
}

/**
 * Decides whether an install may be stored. Every install grant — a new member_id, a re-install of a known one, after
 * an uninstall or a "needs reinstall", from the installer POST or from ONAPPINSTALL — passes the same three gates:
 * 1. its portal address passes the SSRF rules;
 * 2. the trusted OAuth server confirms the tokens belong to that member_id, domain, client endpoint and our client_id
 *    (install-trust.ts) — so a stored portal's address changes only when the OAuth server names the new one (a
 *    renamed portal), never on the request's word;
 * 3. the installing user is an administrator of that portal (assertInstalledByAdmin).
 * An application token proves nothing here: it travels in every event and page load of the portal, and an old one
 * may be in the hands of whoever once saw such a request. The OAuth server stored is always the configured one:
 * tokens are refreshed there with our client_secret, so an install naming another SERVER_ENDPOINT must not redirect it.
 */
export async function admitGrant(deps: InstallDeps, grant: InstallGrant): Promise<AdmittedGrant> {
  await assertPortalAddressAllowed(grant, deps.trust.portalAddress);
  await confirmNewInstall(deps.trust, grant, deps.log);
  await assertInstalledByAdmin(deps, grant);
  const existing = deps.store.portals.get(grant.memberId);
  if (existing && (existing.domain !== grant.domain || existing.clientEndpoint !== grant.clientEndpoint)) {
    deps.log.info({ portal: grant.memberId, from: existing.domain, to: grant.domain }, 'portal address changed, confirmed by the OAuth server');
  }
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
    // Bitrix24 keeps the default outgoing line across a re-install, so the admin's tick stays.
    ...(existing?.defaultLineConfirmedAt ? { defaultLineConfirmedAt: existing.defaultLineConfirmedAt } : {}),
  };
  await deps.store.portals.put(portal);
  deps.clients.forget(portal.memberId);
  // Cached frame verdicts of this portal (an admin flag among them) date from before the install: ask again.
  deps.forgetFrameAuth?.(portal.memberId);
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
  const country = portalCountry(setup.appInfo, stored.domain);
  const portal = await deps.store.portals.update(stored.memberId, {
    installed: true, ratePlan: setup.ratePlan, ...(country ? { country } : {}), updatedAt: (deps.now ?? Date.now)(),
  });
  const firstSettings = country ? settingsWithPortalCountry(deps.store.settings.get(stored.memberId), country) : null;
  if (firstSettings) await deps.store.settings.put(stored.memberId, firstSettings);
  deps.clients.forget(stored.memberId);
  log.info({ domain: portal.domain, ratePlan: portal.ratePlan, country: portal.country, countryAdopted: firstSettings !== null }, 'portal installed');
  try {
    await deps.onInstalled?.(stored.memberId);
  } catch (err) {
    log.error({ err }, 'after-install hook failed');
  }
  return { portal, setup };
}
