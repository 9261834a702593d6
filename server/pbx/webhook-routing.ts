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
 * The path key is an HMAC of the member id under a server-side key (DATA_DIR/webhook.key, store/webhook-key.ts),
 * so the URL alone reveals nothing and cannot be enumerated. When that key is unavailable no URL can be given and
 * the webhook portals are fenced off by the link lifecycle (`problem()`); the brand's router checks the signature.
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
}

export function createWebhookRouting(opts: WebhookRoutingOptions): WebhookRouting {
  /** Undefined until loaded, or when it is unavailable. */
  let secret: string | undefined;
  let problem: string | undefined;

  function keyOf(memberId: string): string {
    // Without its key no webhook URL can be given: a made-up one would be wrong (store/webhook-key.ts). This
    // placeholder never matches a pushed request (no webhook link runs while the key is unavailable).
    if (secret === undefined) return 'unavailable-see-status';
    return createHmac('sha256', secret).update(`pbx-webhook:${memberId}`).digest('base64url').slice(0, 32);
  }

  function resolve(key: string): WebhookTarget | undefined {
    for (const link of opts.links()) {
      if (link.settings.events !== 'webhook' || link.isClosed()) continue;
      if (keyOf(link.memberId) !== key) continue;
      const accept = link.adapter.acceptPushedEvent?.bind(link.adapter);
      if (!accept) return undefined;
      return { portal: link.memberId, webhookSecret: link.settings.webhookSecret, deliver: accept };
    }
    return undefined;
  }

  return {
    async load(state) {
      const webhookPortals = opts.store.portals.list().filter((p) => opts.store.settings.get(p.memberId).pbx?.events === 'webhook').length;
      const key = await loadWebhookKey(opts.dataDir, { legacyKey: state.legacyWebhookKey(), webhookPortals, log: opts.log });
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
  };
}
