import { createHash } from 'node:crypto';
import { createKeyedSerial } from '../keyed-serial.js';
import type { Logger } from '../log.js';
import { fenceAdvice } from '../store/fences.js';
import type { Store } from '../store/types.js';
import { PbxError, type CallEvent, type HeldInboundCall, type InboundCallControl, type PbxAdapter, type PbxConnectionSettings, type PbxLinkStatus } from './adapter.js';
import { assertPbxAddressAllowed, type AddressPolicy } from './address-guard.js';
import type { PbxAdapterFactory } from './brand.js';
import { createCallDelivery, type CallDelivery } from './call-delivery.js';
import { createGapRecovery, type GapRecovery } from './gap-recovery.js';
import type { LinkStateFile } from './link-state.js';

/**
 * One live PBX link per enabled portal: opened, reopened with new settings, or closed after every change of the
 * portal (settings saved, install, uninstall, repair, fence), and the link status the UI shows.
 */
export interface Link {
  memberId: string;
  fingerprint: string;
  settings: PbxConnectionSettings;
  adapter: PbxAdapter;
  delivery: CallDelivery;
  recovery: GapRecovery;
  isClosed(): boolean;
}

export interface LinkLifecycle {
  /** Links open and follow the store from now on (until stop). */
  start(): void;
  /** Opens, reopens with the new settings, or closes the portal's link; one at a time per portal. */
  reconcile(memberId: string): Promise<void>;
  /** Waits for reconciles in progress, then closes every link (their events in progress handled). */
  stop(): Promise<void>;
  get(memberId: string): Link | undefined;
  links(): Link[];
  status(memberId: string): PbxLinkStatus;
}

export interface LinkLifecycleOptions {
  store: Store;
  log: Logger;
  state: LinkStateFile;
  addressPolicy: AddressPolicy;
  createAdapter: PbxAdapterFactory;
  onCallEvent: (event: CallEvent) => void | Promise<void>;
  onHeldCall?: (control: InboundCallControl, call: HeldInboundCall) => void;
  /** Why webhook links cannot run now (their key is unavailable: webhook-routing.ts), undefined when they can. */
  webhookKeyProblem: () => string | undefined;
  recovery: { marginMs: number; tailMs: number; retryMs: number; webhookSweepMs: number };
  /**
   * True while this instance owns the portal (server/cluster/ownership.ts): its link is opened only then, closed as
   * soon as it is not, and refuses every new connection meanwhile (one PBX link per portal, ever).
   */
  owns: (memberId: string) => boolean;
  /**
   * True while the portal's lease is still this instance's, also while it is given up gracefully: the closing link may
   * still revoke its PBX tokens then. Every PBX request and connection is refused once it is false (a woken former
   * owner sends nothing, not even over a kept-alive socket).
   */
  holds: (memberId: string) => boolean;
}

interface OpenLink extends Link {
  unsubscribe: (() => void)[];
  closed: boolean;
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

function fingerprintOf(settings: PbxConnectionSettings): string {
  return createHash('sha256').update(JSON.stringify([settings.baseUrl, settings.clientId, settings.clientSecret, settings.events, settings.webhookSecret])).digest('hex');
}

export function createLinkLifecycle(opts: LinkLifecycleOptions): LinkLifecycle {
  const { store, log, state } = opts;
  const links = new Map<string, OpenLink>();
  /** Status of portals without a live adapter (disabled, or refused before connecting). */
  const parked = new Map<string, PbxLinkStatus>();
  /** A burst of settings saves ends with the last settings applied. */
  const perPortal = createKeyedSerial();
  let started = false;

  function wantedSettings(memberId: string): PbxConnectionSettings | undefined {
    const portal = store.portals.get(memberId);
    if (!portal || portal.uninstalledAt !== undefined) return undefined;
    const settings = store.settings.get(memberId);
    const pbx = settings.pbx;
    if (!settings.enabled || !pbx || pbx.baseUrl === '' || pbx.clientId === '' || pbx.clientSecret === '') return undefined;
    return { baseUrl: pbx.baseUrl, clientId: pbx.clientId, clientSecret: pbx.clientSecret, events: pbx.events, webhookSecret: pbx.webhookSecret };
  }

  async function closeLink(link: OpenLink): Promise<void> {
    link.closed = true;
    link.recovery.close();
    links.delete(link.memberId);
    try {
      // Still subscribed while closing: CDRs waiting in the settle window are flushed to us, not lost.
      await link.adapter.disconnect();
    } catch (err) {
      log.warn({ portal: link.memberId, err }, 'PBX link did not close cleanly');
    }
    for (const u of link.unsubscribe) u();
    await link.delivery.settled();
  }

  function openLink(memberId: string, settings: PbxConnectionSettings, fingerprint: string): OpenLink {
    const addressPolicy = {
      ...opts.addressPolicy,
      refuseConnect: () => (opts.holds(memberId) ? undefined : new PbxError('PBX_CLOSED', `this instance no longer owns portal ${memberId}: nothing is sent to its PBX`)),
    };
    const adapter = opts.createAdapter(memberId, settings, { log, addressPolicy });
    // Each needs the other: recovery delivers what it reads back, a delivery that failed is retried by recovery
    // (called only once events flow, after both exist).
    const delivery = createCallDelivery({
      portal: memberId, log, onCallEvent: opts.onCallEvent,
      onCdrFailed: (event) => recovery.holdForRetry(event),
    });
    const recovery = createGapRecovery({
      memberId, adapter, delivery, state, log, ...opts.recovery, owns: () => opts.owns(memberId),
      newestCallAt: () => store.calls.listRecent(memberId, { limit: 1 })[0]?.startedAt,
    });
    const link: OpenLink = {
      memberId, fingerprint, settings, adapter, delivery, recovery, unsubscribe: [], closed: false,
      isClosed: () => link.closed,
    };
    // What a socket still hands us once the portal is not ours (an instance woken from a pause, a link closing after
    // its lease was given up) is left to the owner: handling it would look the caller up in Bitrix24 from here. The
    // owner reads those calls back from the PBX's history (gap recovery from the coverage mark).
    link.unsubscribe.push(adapter.onCallEvent((event) => {
      if (opts.owns(memberId)) delivery.deliver(event);
    }));
    const control = adapter.inboundControl;
    const onHeld = opts.onHeldCall;
    if (control && onHeld) {
      link.unsubscribe.push(control.onHeldCall((call) => {
        if (opts.owns(memberId)) onHeld(control, call);
      }));
    }
    link.unsubscribe.push(adapter.onStatus((status) => {
      if (link.closed) return;
      if (status.state === 'connected') void recovery.recover();
      else recovery.linkDown();
    }));
    if (settings.events === 'webhook') recovery.sweepEvery(opts.recovery.webhookSweepMs);
    return link;
  }

  async function reconcileNow(memberId: string): Promise<void> {
    const existing = links.get(memberId);
    if (started && !opts.owns(memberId)) {
      // Another instance runs this portal: the link closes (its coverage mark written for the new owner to resume
      // from), and the mark is kept, unlike a disabled portal's.
      if (existing) {
        await closeLink(existing);
        await state.flush();
        log.info({ portal: memberId }, 'PBX link closed: another instance owns the portal now');
      }
      parked.set(memberId, { state: 'disabled', lastError: 'The PBX link of this portal runs on another instance of the connector.' });
      return;
    }
    const wanted = started ? wantedSettings(memberId) : undefined;
    const keyProblem = opts.webhookKeyProblem();
    if (wanted?.events === 'webhook' && keyProblem !== undefined) {
      store.fences.add(memberId, { file: 'webhook.key', repair: 'operator', reason: keyProblem });
    } else {
      store.fences.lift(memberId, 'webhook.key');
    }
    // A fenced portal's link does not run (store/fences.ts); its coverage mark is kept so that the calls of the
    // fenced time are recovered once it is repaired.
    const fences = store.fences.list(memberId);
    if (started && fences.length > 0) {
      if (existing) await closeLink(existing);
      log.warn({ portal: memberId, files: fences.map((f) => f.file).join(', ') }, 'PBX link not opened: the portal is fenced off');
      parked.set(memberId, { state: 'disabled', lastError: `Fenced off: ${fences.map((f) => fenceAdvice(f)).join(' ')}`, lastErrorCode: 'PORTAL_FENCED' });
      return;
    }
    if (!wanted) {
      if (existing) await closeLink(existing);
      // Disabled means "no call is handled": calls of the disabled period are not recovered on re-enable.
      if (started && !store.fences.isFenced(memberId)) state.forget(memberId);
      parked.set(memberId, { state: 'disabled' });
      return;
    }
    const fingerprint = fingerprintOf(wanted);
    if (existing && existing.fingerprint === fingerprint) return;
    if (existing) await closeLink(existing);
    // Another PBX: its history before now is not this portal's to log. (A new secret for the same PBX keeps the mark.)
    if (existing && safeOrigin(existing.settings.baseUrl) !== safeOrigin(wanted.baseUrl)) state.forget(memberId);
    try {
      await assertPbxAddressAllowed(wanted.baseUrl, opts.addressPolicy);
    } catch (err) {
      const e = err instanceof PbxError ? err : new PbxError('PBX_ERROR', String(err), err);
      log.warn({ portal: memberId, code: e.code, reason: e.message }, 'PBX link not opened');
      parked.set(memberId, { state: 'unreachable', lastError: e.message, lastErrorCode: e.code });
      return;
    }
    const link = openLink(memberId, wanted, fingerprint);
    links.set(memberId, link);
    parked.delete(memberId);
    log.info({ portal: memberId, mode: wanted.events }, 'PBX link opening');
    await link.adapter.connect();
    link.recovery.catchUp();
  }

  return {
    start() {
      started = true;
    },
    reconcile(memberId) {
      return perPortal.run(memberId, () => reconcileNow(memberId)).catch((err: unknown) => {
        log.error({ portal: memberId, err }, 'PBX link reconcile failed');
      });
    },
    async stop() {
      started = false;
      await perPortal.idle();
      await Promise.all([...links.values()].map((l) => closeLink(l)));
    },
    get: (memberId) => links.get(memberId),
    links: () => [...links.values()],
    status(memberId) {
      const link = links.get(memberId);
      if (link) return link.adapter.status();
      return parked.get(memberId) ?? { state: 'disabled' };
    },
  };
}
