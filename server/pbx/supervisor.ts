import { createHash, createHmac } from 'node:crypto';
import { join } from 'node:path';
import type { Router } from 'express';
import type { Config } from '../config.js';
import { callLog, type Logger } from '../log.js';
import type { Store } from '../store/types.js';
import { PbxError, type CallEvent, type HeldInboundCall, type InboundCallControl, type PbxAdapter, type PbxConnectionSettings, type PbxLinkStatus } from './adapter.js';
import { assertPbxAddressAllowed, type AddressPolicy } from './address-guard.js';
import { fenceAdvice } from '../store/fences.js';
import { loadWebhookKey } from '../store/webhook-key.js';
import { createLinkStateFile, type LinkStateFile } from './link-state.js';
import { createYeastarAdapter, type YeastarTimings } from './yeastar/adapter.js';
import { createPbxWebhookRouter, type WebhookTarget } from './yeastar/webhook.js';

/**
 * One live PBX link per enabled portal, its status for the UI, and gap recovery.
 *
 * Gap recovery: the supervisor remembers (durably, in DATA_DIR/pbx-links.json) the time up to which a portal's
 * link heard everything. Whenever a link (re)connects — and at start — the calls that ended since then
 * (minus a margin for clock skew) are read back with `searchCdr` and delivered like live `cdr` events.
 * The coverage mark only moves forward after such a recovery succeeded, so an outage that outlives the
 * process is still recovered after the restart. `cdr` events are delivered once per call id (live or
 * recovered, whichever comes first); the calls service is idempotent as well, for the margin after a restart.
 *
 * A call that ended moments ago may not have all its legs in the call history yet (IVR leg written, agent leg
 * not): folding it now would log an answered call as missed, and the complete version would then be dropped as
 * a duplicate. So a recovery pass leaves calls that ended within the last `recoveryTailMs` alone, keeps the mark
 * that far behind, and a follow-up pass picks them up once settled.
 * In webhook mode the PBX gives no sign of lost pushes, so the history is swept periodically instead, and the
 * mark only moves with successful sweeps.
 */

export interface PbxSupervisorOptions {
  store: Store;
  log: Logger;
  config: Config;
  createAdapter?: (portal: string, settings: PbxConnectionSettings) => PbxAdapter;
  onCallEvent: (event: CallEvent) => void | Promise<void>;
  /** Inbound calls the PBX holds for a routing decision (calls/routing.ts); told with the link's adapter. */
  onHeldCall?: (control: InboundCallControl, call: HeldInboundCall) => void;
  /** Passed to the default Yeastar adapter. */
  adapterTimings?: Partial<YeastarTimings>;
  /** Recovery looks back this much before the coverage mark (PBX clock skew, in-flight legs). */
  recoveryMarginMs?: number;
  /** How often the coverage mark of connected links moves forward. */
  coverageTickMs?: number;
  /** Wait before retrying a recovery that failed while the link is up. */
  recoveryRetryMs?: number;
  /** Calls that ended this recently are left to a follow-up pass (their CDR legs may still be being written). */
  recoveryTailMs?: number;
  /** Webhook mode: how often the call history is swept for pushes that never arrived. */
  webhookSweepMs?: number;
  /** Replaces DNS for the address guard (tests). */
  lookup?: AddressPolicy['lookup'];
  /** Defaults to DATA_DIR/pbx-links.json. */
  statePath?: string;
}

export interface PbxTestResult {
  extensions: number;
}

export interface PbxSupervisor {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** After a settings change (or install/uninstall): opens, reopens with the new settings, or closes the link. */
  reconcile(memberId: string): Promise<void>;
  status(memberId: string): PbxLinkStatus;
  adapter(memberId: string): PbxAdapter | undefined;
  /** Links whose state is `connected` now (the `pbx links up` gauge of /metrics). */
  linksUp(): number;
  /** Checks address, credentials and API access with these settings, without touching the live link. */
  testConnection(settings: PbxConnectionSettings): Promise<PbxTestResult>;
  /** `POST /pbx/webhook/:portalKey`, to mount at the app root. */
  webhookRouter(): Router;
  /** The unguessable path segment of this portal's webhook URL. */
  webhookKey(memberId: string): string;
  /** `/pbx/webhook/<key>`: append to PUBLIC_URL for the URL to paste into the PBX. */
  webhookPath(memberId: string): string;
}

interface Link {
  memberId: string;
  fingerprint: string;
  settings: PbxConnectionSettings;
  adapter: PbxAdapter;
  unsubscribe: (() => void)[];
  /**
   * Deliveries in order per call, one at a time, so an async handler sees a call's events in sequence. Per call, not
   * per link: one chain for the whole link made every call's screen pop wait for the previous call's CRM lookup and
   * store commit (20 calls ringing together popped up to 130 ms apart; bench/, issue 7).
   */
  chains: Map<string, Promise<void>>;
  delivered: Map<string, number>;
  /** True once the recovery after the latest (re)connect succeeded; gates the coverage mark. */
  caughtUp: boolean;
  recovering: boolean;
  recoverAgain: boolean;
  retryTimer?: ReturnType<typeof setTimeout>;
  /** When a recovery pass first found a call it left for later (call id → our clock). */
  firstSeen: Map<string, number>;
  /** The coverage mark must stay before this: a call's CDR ending here failed to be handled and waits for a retry. */
  heldBefore?: number;
  followUpTimer?: ReturnType<typeof setTimeout>;
  sweepTimer?: ReturnType<typeof setInterval>;
  closed: boolean;
}

const DELIVERED_MEMORY = 20_000;

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

export function createPbxSupervisor(opts: PbxSupervisorOptions): PbxSupervisor {
  const log = opts.log.child({ part: 'pbx-supervisor' });
  const margin = opts.recoveryMarginMs ?? 2 * 60_000;
  const tickMs = opts.coverageTickMs ?? 5_000;
  const retryMs = opts.recoveryRetryMs ?? 15_000;
  const tailMs = opts.recoveryTailMs ?? 20_000;
  const sweepMs = opts.webhookSweepMs ?? 5 * 60_000;
  const policy: AddressPolicy = {
    allowLoopback: opts.config.pbxAllowLoopback,
    allowPrivate: opts.config.pbxAllowPrivate,
    ...(opts.lookup ? { lookup: opts.lookup } : {}),
  };
  const state: LinkStateFile = opts.store.linkMarks ?? createLinkStateFile(opts.statePath ?? join(opts.config.dataDir, 'pbx-links.json'), { log });
  /** Loaded at start from DATA_DIR/webhook.key (store/webhook-key.ts); undefined when it is unavailable. */
  let webhookSecret: string | undefined;
  let webhookKeyProblem: string | undefined;
  const makeAdapter = opts.createAdapter
    ?? ((portal: string, settings: PbxConnectionSettings) => createYeastarAdapter({ portal, settings, log, timings: opts.adapterTimings, addressPolicy: policy }));

  const links = new Map<string, Link>();
  /** Status of portals without a live adapter (disabled, or refused before connecting). */
  const parked = new Map<string, PbxLinkStatus>();
  const queues = new Map<string, Promise<void>>();
  let tick: ReturnType<typeof setInterval> | undefined;
  let started = false;

  function webhookKey(memberId: string): string {
    // Without its key no webhook URL can be given: a made-up one would be wrong (store/webhook-key.ts). This
    // placeholder never matches a pushed request (no webhook link runs while the key is unavailable).
    if (webhookSecret === undefined) return 'unavailable-see-status';
    return createHmac('sha256', webhookSecret).update(`pbx-webhook:${memberId}`).digest('base64url').slice(0, 32);
  }

  /**
   * The coverage marks were lost (pbx-links.json and its .bak damaged): instead of taking every portal for new
   * (no recovery at all), look back to the newest call stored for the portal, at most 24 hours: calls that ended
   * while the server was down are still logged, and the calls service skips those it already knows.
   */
  function lostMarkFallback(memberId: string): number | undefined {
    if (!state.marksLost()) return undefined;
    const newest = opts.store.calls.listRecent(memberId, { limit: 1 })[0];
    if (!newest) return undefined;
    return Math.max(newest.startedAt, Date.now() - 24 * 60 * 60_000);
  }

  /**
   * A call's CDR that could not be handled (the store refused the write: disk full) is not logged yet. It is
   * forgotten as delivered and the coverage mark is held before it, so a recovery pass reads it again from the
   * PBX's call history once the cause is gone; until then, recovery is retried. Without this the call was lost
   * (faults/store-faults.int.spec.ts).
   */
  function holdForRetry(link: Link, event: CallEvent): void {
    link.delivered.delete(event.pbxCallId);
    const before = Math.min(event.at, Date.now()) - 1;
    link.heldBefore = Math.min(link.heldBefore ?? before, before);
    if (link.closed || link.retryTimer !== undefined) return;
    link.retryTimer = setTimeout(() => {
      link.retryTimer = undefined;
      if (!link.closed && link.adapter.status().state === 'connected') void recover(link);
    }, retryMs);
    link.retryTimer.unref?.();
  }

  /** Moves the coverage mark, never past a call still waiting to be handled. */
  function cover(link: Link, at: number): void {
    state.setCoveredUntil(link.memberId, Math.min(at, link.heldBefore ?? at));
  }

  function deliver(link: Link, event: CallEvent): void {
    if (event.kind === 'cdr') {
      if (link.delivered.has(event.pbxCallId)) return;
      link.delivered.set(event.pbxCallId, Date.now());
      if (link.delivered.size > DELIVERED_MEMORY) {
        const oldest = link.delivered.keys().next();
        if (!oldest.done) link.delivered.delete(oldest.value);
      }
    }
    const previous = link.chains.get(event.pbxCallId) ?? Promise.resolve();
    const next = previous.then(async () => {
      try {
        await opts.onCallEvent(event);
      } catch (err) {
        callLog(log, { portal: link.memberId, pbxCallId: event.pbxCallId }).error({ err, kind: event.kind }, 'call event handler failed');
        if (event.kind === 'cdr') holdForRetry(link, event);
      }
    });
    link.chains.set(event.pbxCallId, next);
    // The last delivery of a call removes its chain, so the map holds only calls with a delivery in progress.
    void next.then(() => {
      if (link.chains.get(event.pbxCallId) === next) link.chains.delete(event.pbxCallId);
    });
  }

  async function recover(link: Link): Promise<void> {
    if (link.recovering) {
      link.recoverAgain = true;
      return;
    }
    link.recovering = true;
    try {
      do {
        link.recoverAgain = false;
        const covered = state.coveredUntil(link.memberId) ?? lostMarkFallback(link.memberId);
        const startedAt = Date.now();
        const settledBefore = startedAt - tailMs;
        if (covered === undefined) {
          // First link ever for this portal: history before it is not ours to log. Written at once, not debounced:
          // without this mark on disk a restart takes the portal for new again and never looks back, so calls of a
          // crash in the first second of a link were lost (faults/sigkill.int.spec.ts).
          state.setCoveredUntil(link.memberId, startedAt);
          await state.flush();
        } else {
          const since = covered - margin;
          // Calls held back by a failed delivery are read again now; a new failure holds the mark again.
          link.heldBefore = undefined;
          const events = await link.adapter.searchCdr(since);
          if (link.closed) return;
          let fresh = 0;
          let tooRecent = 0;
          for (const event of events) {
            if (link.delivered.has(event.pbxCallId)) {
              link.firstSeen.delete(event.pbxCallId);
              continue;
            }
            // Settled when it ended a tail ago, or when we first saw it a tail ago: a PBX clock ahead of ours dates
            // calls in the future, and they must not wait for our clock to catch up (nor forever).
            const firstSeen = link.firstSeen.get(event.pbxCallId) ?? startedAt;
            if (event.at > settledBefore && firstSeen > settledBefore) {
              link.firstSeen.set(event.pbxCallId, firstSeen);
              tooRecent += 1;
              continue;
            }
            link.firstSeen.delete(event.pbxCallId);
            fresh += 1;
            deliver(link, { ...event, recovered: true });
          }
          log.info({ portal: link.memberId, since, found: events.length, delivered: fresh, deferred: tooRecent }, 'PBX call history recovered');
          cover(link, settledBefore);
          if (tooRecent > 0) scheduleFollowUp(link);
        }
        link.caughtUp = true;
      } while (link.recoverAgain && !link.closed);
    } catch (err) {
      log.warn({ portal: link.memberId, code: err instanceof PbxError ? err.code : 'UNKNOWN', reason: err instanceof Error ? err.message : String(err) }, 'PBX call history recovery failed; will retry');
      if (!link.closed) {
        link.retryTimer = setTimeout(() => {
          link.retryTimer = undefined;
          if (!link.closed && link.adapter.status().state === 'connected') void recover(link);
        }, retryMs);
        link.retryTimer.unref?.();
      }
    } finally {
      link.recovering = false;
    }
  }

  function scheduleFollowUp(link: Link): void {
    if (link.followUpTimer !== undefined || link.closed) return;
    link.followUpTimer = setTimeout(() => {
      link.followUpTimer = undefined;
      if (!link.closed) void recover(link);
    }, tailMs + Math.min(5_000, Math.max(100, tailMs / 4)));
    link.followUpTimer.unref?.();
  }

  function onStatus(link: Link, status: PbxLinkStatus): void {
    if (link.closed) return;
    if (status.state === 'connected') {
      void recover(link);
    } else {
      link.caughtUp = false;
    }
  }

  async function closeLink(link: Link): Promise<void> {
    link.closed = true;
    if (link.retryTimer !== undefined) clearTimeout(link.retryTimer);
    if (link.followUpTimer !== undefined) clearTimeout(link.followUpTimer);
    if (link.sweepTimer !== undefined) clearInterval(link.sweepTimer);
    links.delete(link.memberId);
    try {
      // Still subscribed while closing: CDRs waiting in the settle window are flushed to us, not lost.
      await link.adapter.disconnect();
    } catch (err) {
      log.warn({ portal: link.memberId, err }, 'PBX link did not close cleanly');
    }
    for (const u of link.unsubscribe) u();
    await Promise.all([...link.chains.values()]);
  }

  function wantedSettings(memberId: string): PbxConnectionSettings | undefined {
    const portal = opts.store.portals.get(memberId);
    if (!portal || portal.uninstalledAt !== undefined) return undefined;
    const settings = opts.store.settings.get(memberId);
    const pbx = settings.pbx;
    if (!settings.enabled || !pbx || pbx.baseUrl === '' || pbx.clientId === '' || pbx.clientSecret === '') return undefined;
    return { baseUrl: pbx.baseUrl, clientId: pbx.clientId, clientSecret: pbx.clientSecret, events: pbx.events, webhookSecret: pbx.webhookSecret };
  }

  async function reconcileNow(memberId: string): Promise<void> {
    const wanted = started ? wantedSettings(memberId) : undefined;
    const existing = links.get(memberId);
    if (wanted?.events === 'webhook' && webhookSecret === undefined && webhookKeyProblem !== undefined) {
      opts.store.fences.add(memberId, { file: 'webhook.key', repair: 'operator', reason: webhookKeyProblem });
    } else {
      opts.store.fences.lift(memberId, 'webhook.key');
    }
    // A fenced portal's link does not run (store/fences.ts); its coverage mark is kept so that the calls of the
    // fenced time are recovered once it is repaired.
    const fences = opts.store.fences.list(memberId);
    if (started && fences.length > 0) {
      if (existing) await closeLink(existing);
      log.warn({ portal: memberId, files: fences.map((f) => f.file).join(', ') }, 'PBX link not opened: the portal is fenced off');
      parked.set(memberId, { state: 'disabled', lastError: `Fenced off: ${fences.map((f) => fenceAdvice(f)).join(' ')}`, lastErrorCode: 'PORTAL_FENCED' });
      return;
    }
    if (!wanted) {
      if (existing) await closeLink(existing);
      // Disabled means "no call is handled": calls of the disabled period are not recovered on re-enable.
      if (started && !opts.store.fences.isFenced(memberId)) state.forget(memberId);
      parked.set(memberId, { state: 'disabled' });
      return;
    }
    const fingerprint = fingerprintOf(wanted);
    if (existing && existing.fingerprint === fingerprint) return;
    if (existing) await closeLink(existing);
    // Another PBX: its history before now is not this portal's to log. (A new secret for the same PBX keeps the mark.)
    if (existing && safeOrigin(existing.settings.baseUrl) !== safeOrigin(wanted.baseUrl)) state.forget(memberId);
    try {
      await assertPbxAddressAllowed(wanted.baseUrl, policy);
    } catch (err) {
      const e = err instanceof PbxError ? err : new PbxError('PBX_ERROR', String(err), err);
      log.warn({ portal: memberId, code: e.code, reason: e.message }, 'PBX link not opened');
      parked.set(memberId, { state: 'unreachable', lastError: e.message, lastErrorCode: e.code });
      return;
    }
    const adapter = makeAdapter(memberId, wanted);
    const link: Link = {
      memberId, fingerprint, settings: wanted, adapter, unsubscribe: [], chains: new Map(), delivered: new Map(), firstSeen: new Map(),
      caughtUp: false, recovering: false, recoverAgain: false, closed: false,
    };
    link.unsubscribe.push(adapter.onCallEvent((event) => deliver(link, event)));
    const control = adapter.inboundControl;
    const onHeld = opts.onHeldCall;
    if (control && onHeld) link.unsubscribe.push(control.onHeldCall((call) => onHeld(control, call)));
    link.unsubscribe.push(adapter.onStatus((status) => onStatus(link, status)));
    links.set(memberId, link);
    parked.delete(memberId);
    log.info({ portal: memberId, mode: wanted.events }, 'PBX link opening');
    if (wanted.events === 'webhook') {
      link.sweepTimer = setInterval(() => {
        if (!link.closed && adapter.status().state === 'connected') void recover(link);
      }, sweepMs);
      link.sweepTimer.unref?.();
    }
    await adapter.connect();
    if (adapter.status().state === 'connected' && !link.caughtUp && !link.recovering) void recover(link);
  }

  /** One reconcile at a time per portal: a burst of settings saves ends with the last settings applied. */
  function reconcile(memberId: string): Promise<void> {
    const prev = queues.get(memberId) ?? Promise.resolve();
    const next = prev.then(() => reconcileNow(memberId)).catch((err: unknown) => {
      log.error({ portal: memberId, err }, 'PBX link reconcile failed');
    });
    queues.set(memberId, next);
    void next.finally(() => {
      if (queues.get(memberId) === next) queues.delete(memberId);
    });
    return next;
  }

  function resolveWebhook(key: string): WebhookTarget | undefined {
    for (const link of links.values()) {
      if (link.settings.events !== 'webhook' || link.closed) continue;
      if (webhookKey(link.memberId) !== key) continue;
      const accept = link.adapter.acceptPushedEvent?.bind(link.adapter);
      if (!accept) return undefined;
      return { portal: link.memberId, webhookSecret: link.settings.webhookSecret, deliver: accept };
    }
    return undefined;
  }

  return {
    async start() {
      if (started) return;
      started = true;
      await state.load();
      const webhookPortals = opts.store.portals.list().filter((p) => opts.store.settings.get(p.memberId).pbx?.events === 'webhook').length;
      const key = await loadWebhookKey(opts.config.dataDir, { legacyKey: state.legacyWebhookKey(), webhookPortals, log });
      if (key.ok) {
        webhookSecret = key.key;
        state.dropLegacyWebhookKey();
      } else {
        webhookKeyProblem = key.reason;
      }
      tick = setInterval(() => {
        const now = Date.now();
        for (const link of links.values()) {
          // Webhook links move the mark with their sweeps only (a push lost in transit leaves no trace).
          if (link.settings.events === 'websocket' && link.caughtUp && link.adapter.status().state === 'connected') {
            cover(link, now - tailMs);
          }
        }
      }, tickMs);
      tick.unref?.();
      await Promise.all(opts.store.portals.list().map((p) => reconcile(p.memberId)));
    },
    async stop() {
      started = false;
      if (tick !== undefined) clearInterval(tick);
      tick = undefined;
      await Promise.all([...queues.values()]);
      await Promise.all([...links.values()].map((l) => closeLink(l)));
      await state.flush();
    },
    reconcile,
    status(memberId) {
      const link = links.get(memberId);
      if (link) return link.adapter.status();
      return parked.get(memberId) ?? { state: 'disabled' };
    },
    adapter: (memberId) => links.get(memberId)?.adapter,
    linksUp: () => [...links.values()].filter((l) => l.adapter.status().state === 'connected').length,
    async testConnection(settings) {
      await assertPbxAddressAllowed(settings.baseUrl, policy);
      const adapter = makeAdapter('connection-test', settings);
      try {
        await adapter.testConnection();
        const extensions = await adapter.listExtensions();
        return { extensions: extensions.length };
      } finally {
        await adapter.disconnect().catch(() => undefined);
      }
    },
    webhookRouter: () => createPbxWebhookRouter({ log, resolve: resolveWebhook }),
    webhookKey,
    webhookPath: (memberId) => `/pbx/webhook/${webhookKey(memberId)}`,
  };
}
