import { createHmac } from 'node:crypto';
import type { Router } from 'express';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import { loadWebhookKey } from '../store/webhook-key.js';
import type { PbxAdapter, PbxConnectionSettings } from './adapter.js';
import type { PbxWebhookRouterFactory, WebhookTarget } from './brand.js';
import type { LinkStateFile } from './link-state.js';

/**
 * Webhook mode's routing: each portal's unguessable URL path, and which open link a push to it goes to.
 *
 * The path key is an HMAC of the member id under a server-side key (DATA_DIR/webhook.key, or with PostgreSQL one
 * key in the database for every instance: store/webhook-key.ts), so the URL alone reveals nothing and cannot be
 * enumerated. When that key is unavailable no URL can be given and the webhook portals are fenced off by the link
 * lifecycle (`problem()`); the brand's router checks the signature.
 *
 * Several instances: a push may reach an instance that does not run the portal's link. That instance finds the
 * portal by its key among the stored portals and gives the brand's router the portal's webhook secret from the
 * shared store, so the signature is checked there by the same code as always (nothing unchecked leaves it); the
 * checked event is then handed to the owner (`handOver`, wired by the composition root to cluster/).
 */
export interface WebhookRouting {
  /** Loads the server-side key (migrating one found in an older pbx-links.json). */
  load(state: LinkStateFile): Promise<void>;
  /** Why no key is available (then webhook links do not run); undefined when it is. */
  problem(): string | undefined;
  /** The unguessable path segment of this portal's webhook URL. */
  keyOf(memberId: string): string;
  /** `POST /pbx/webhook/:portalKey`, to mount at the app root. */
  router(): Router;
  /** Gives a pushed event (handed over by another instance) to this portal's open webhook link; false when none. */
  acceptPushed(memberId: string, event: unknown): boolean;
}

/** What routing needs to know of an open link. */
export interface WebhookLinkView {
  memberId: string;
  settings: PbxConnectionSettings;
  adapter: PbxAdapter;
  isClosed(): boolean;
}

export interface WebhookRoutingOptions {
  store: Store;
  dataDir: string;
  log: Logger;
  /** The open links, to find the one a key belongs to. */
  links: () => Iterable<WebhookLinkView>;
  /** The brand's router (signature check, body parsing); none: pushes are not accepted. */
  createRouter?: PbxWebhookRouterFactory;
  /** Whether this instance runs the portal's link (server/cluster/ownership.ts). Default: every portal. */
  owns?: (memberId: string) => boolean;
  /** Hands a checked push for a portal whose link runs on another instance to that instance; absent: refused. */
  handOver?: (memberId: string, event: unknown) => Promise<void>;
}

export function createWebhookRouting(opts: WebhookRoutingOptions): WebhookRouting {
  /** Undefined until loaded, or when it is unavailable. */
  let secret: string | undefined;
  let problem: string | undefined;

  const owns = opts.owns ?? (() => true);
  /** Each portal's key, once computed (an HMAC per portal per push would add up with thousands of portals). */
  const keys = new Map<string, string>();

  function keyOf(memberId: string): string {
    // Without its key no webhook URL can be given: a made-up one would be wrong (store/webhook-key.ts). This
    // placeholder never matches a pushed request (no webhook link runs while the key is unavailable).
    if (secret === undefined) return 'unavailable-see-status';
    let key = keys.get(memberId);
    if (key === undefined) {
      key = createHmac('sha256', secret).update(`pbx-webhook:${memberId}`).digest('base64url').slice(0, 32);
      keys.set(memberId, key);
    }
    return key;
  }

  /** This instance's open webhook link of the portal (a link here whose portal another instance now owns is not). */
  function openLink(match: (memberId: string) => boolean): WebhookLinkView | undefined {
    for (const link of opts.links()) {
      if (link.settings.events !== 'webhook' || link.isClosed() || !owns(link.memberId)) continue;
      if (match(link.memberId)) return link;
    }
    return undefined;
  }

  /** A portal in webhook mode whose link runs on another instance: its secret comes from the shared store. */
  function remoteTarget(key: string): WebhookTarget | undefined {
    const handOver = opts.handOver;
    if (!handOver || secret === undefined) return undefined;
    const portal = opts.store.portals.list().find((p) => keyOf(p.memberId) === key);
    // The same portals a link would run for (link-lifecycle.ts wantedSettings): installed, enabled, in webhook mode.
    if (!portal || portal.uninstalledAt !== undefined || owns(portal.memberId)) return undefined;
    const settings = opts.store.settings.get(portal.memberId);
    if (!settings.enabled || settings.pbx?.events !== 'webhook') return undefined;
    return { portal: portal.memberId, webhookSecret: settings.pbx.webhookSecret, handOver: (event) => handOver(portal.memberId, event) };
  }

  function resolve(key: string): WebhookTarget | undefined {
    const link = openLink((memberId) => keyOf(memberId) === key);
    if (!link) return remoteTarget(key);
    const accept = link.adapter.acceptPushedEvent?.bind(link.adapter);
    if (!accept) return undefined;
    return { portal: link.memberId, webhookSecret: link.settings.webhookSecret, deliver: accept };
  }

  return {
    async load(state) {
      const webhookPortals = opts.store.portals.list().filter((p) => opts.store.settings.get(p.memberId).pbx?.events === 'webhook').length;
      const shared = opts.store.database?.webhookKey;
      const key = await loadWebhookKey(opts.dataDir, { legacyKey: state.legacyWebhookKey(), webhookPortals, log: opts.log, ...(shared ? { shared } : {}) });
      keys.clear();
      if (key.ok) {
        secret = key.key;
        problem = undefined;
        state.dropLegacyWebhookKey();
      } else {
        problem = key.reason;
      }
    },
    problem: () => (secret === undefined ? problem : undefined),
    keyOf,
    router: () => {
      if (opts.createRouter) return opts.createRouter({ log: opts.log, resolve });
      throw new Error('this PBX brand takes no webhook pushes: the supervisor was given no createWebhookRouter');
    },
    acceptPushed(memberId, event) {
      const adapter = openLink((m) => m === memberId)?.adapter;
      if (!adapter?.acceptPushedEvent) return false;
      adapter.acceptPushedEvent(event);
      return true;
    },
  };
}
