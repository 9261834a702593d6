/**
 * Events Bitrix24 sends to the app: form POSTs with nested `data[...]` and `auth[...]`, to the handlers bound with
 * event.bind, once, never retried (https://apidocs.bitrix24.com/api-reference/events/index.html). Every POST is logged.
 */
import type { EventDelivery, LoggedDelivery } from './control-types.js';
import { flattenForm, postForm } from './delivery.js';
import { clientEndpointOf, serverEndpointOf, type EmulatorState, type Portal } from './state.js';
import { issueTokens, randomHex } from './tokens.js';

export interface SendEventOptions {
  forgeToken?: boolean;
  toHandler?: string;
  /** Include that user's access token in `auth` (as events triggered by a user carry). */
  asUserId?: number;
}

export interface EventAuthOptions {
  userId?: number;
  forge?: boolean;
  withRefresh?: boolean;
  withServerEndpoint?: boolean;
}

export class EventSender {
  private readonly log: LoggedDelivery[] = [];
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly state: EmulatorState) {}

  /** The `auth` block: tokens only when a user triggered the event; `server_endpoint` only at install. */
  eventAuth(portal: Portal, opts: EventAuthOptions): Record<string, unknown> {
    const auth: Record<string, unknown> = {};
    if (opts.userId !== undefined) {
      const t = issueTokens(this.state, portal, opts.userId, 'app');
      auth.access_token = t.accessToken;
      auth.expires = String(t.expires);
      auth.expires_in = String(t.expiresIn);
      auth.scope = this.state.config.appScopes.join(',');
      if (opts.withRefresh) auth.refresh_token = t.refreshToken;
      auth.user_id = String(opts.userId);
    }
    auth.domain = portal.domain;
    // Since late 2024 event payloads no longer carry server_endpoint (the install does).
    if (opts.withServerEndpoint) auth.server_endpoint = serverEndpointOf(this.state);
    auth.status = 'L';
    auth.client_endpoint = clientEndpointOf(portal);
    auth.member_id = portal.memberId;
    auth.application_token = opts.forge ? randomHex(16) : portal.applicationToken;
    return auth;
  }

  deliver(url: string, event: string, data: unknown, auth: Record<string, unknown>, handlerId: number | null): Promise<EventDelivery> {
    const payload: Record<string, unknown> = {
      event,
      event_handler_id: handlerId === null ? undefined : String(handlerId),
      data,
      ts: String(Math.floor(Date.now() / 1000)),
      auth,
    };
    const pairs = flattenForm(payload, '');
    // Logged when sent (so the log keeps the sending order), completed when the app answers.
    const entry: LoggedDelivery = {
      handler: url, status: null, body: '', error: null, form: Object.fromEntries(pairs),
      memberId: String(auth.member_id ?? ''), event, at: new Date().toISOString(),
    };
    this.log.push(entry);
    const delivery = postForm(url, pairs, this.state.config.deliveryTimeoutMs).then((d) => {
      Object.assign(entry, { status: d.status, body: d.body, error: d.error });
      return d;
    });
    this.track(delivery);
    return delivery;
  }

  /** Nothing but ONAPPINSTALL/ONAPPUNINSTALL is delivered before installFinish. */
  async sendEvent(portal: Portal, event: string, data: unknown, opts: SendEventOptions = {}): Promise<EventDelivery[]> {
    const name = event.toUpperCase();
    const lifecycle = name === 'ONAPPINSTALL' || name === 'ONAPPUNINSTALL';
    const auth = (): Record<string, unknown> => this.eventAuth(portal, { userId: opts.asUserId, forge: opts.forgeToken });
    if (opts.toHandler) return [await this.deliver(opts.toHandler, name, data, auth(), null)];
    if (!lifecycle && !portal.installed) return [];
    const targets = portal.events.filter((b) => b.event === name && !b.offline);
    return Promise.all(targets.map((b) => this.deliver(b.handler, name, data, auth(), b.id)));
  }

  /**
   * Queued and sent a moment later, as Bitrix24's event queue does (CRM change events).
   * https://apidocs.bitrix24.com/api-reference/crm/contacts/events/on-crm-contact-update.html
   */
  emitLater(memberId: string, event: string, data: unknown): void {
    const portal = this.state.portals.get(memberId);
    if (!portal) return;
    this.track(this.sendEvent(portal, event, data).catch(() => []));
  }

  deliveries(filter: { memberId?: string; event?: string } = {}): LoggedDelivery[] {
    return this.log.filter(
      (d) => (filter.memberId === undefined || d.memberId === filter.memberId) && (filter.event === undefined || d.event === filter.event.toUpperCase()),
    );
  }

  /** Resolves when every POST in flight has been answered. */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private track(p: Promise<unknown>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }
}
