import { join } from 'node:path';
import type { Router } from 'express';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import { PbxError, type CallEvent, type CallRecordingRef, type HeldInboundCall, type InboundCallControl, type PbxAdapter, type PbxConnectionSettings, type PbxLinkStatus, type RecordingDownload, type RecordingGrant } from './adapter.js';
import type { AddressPolicy } from './address-guard.js';
import type { PbxAdapterFactory, PbxGrantedDownload, PbxWebhookRouterFactory } from './brand.js';
import { testPbxConnection, type PbxTestResult } from './connection-test.js';
import { createLinkLifecycle } from './link-lifecycle.js';
import { createLinkStateFile, type LinkStateFile } from './link-state.js';
import { createWebhookRouting } from './webhook-routing.js';

export type { PbxTestResult } from './connection-test.js';

/**
 * The PBX side of the product, composed of small parts with one job each:
 * - link-lifecycle.ts: one live link per enabled portal, opened, reopened or closed after every change; its status;
 * - call-delivery.ts: a link's call events handed to the calls service as they come, each CDR once;
 * - gap-recovery.ts: calls that ended while a link was down (or a write failed) read back from the PBX's history;
 * - webhook-routing.ts: the unguessable webhook URL of each portal and the link a push goes to;
 * - connection-test.ts: the settings page's connection test.
 * The PBX brand (its adapter and webhook endpoint, brand.ts) is chosen by the composition root (server/parts.ts).
 */

export interface PbxSupervisorOptions {
  store: Store;
  log: Logger;
  config: Config;
  /** The brand's adapter for a portal's settings (pbx/yeastar/brand.ts in production). */
  createAdapter: PbxAdapterFactory;
  /** The brand's `POST /pbx/webhook/:portalKey` endpoint; without it the supervisor offers no webhook router. */
  createWebhookRouter?: PbxWebhookRouterFactory;
  /** The brand's download with another instance's grant; without it such downloads are refused. */
  downloadGrantedRecording?: PbxGrantedDownload;
  onCallEvent: (event: CallEvent) => void | Promise<void>;
  /** Inbound calls the PBX holds for a routing decision (calls/routing.ts); told with the link's adapter. */
  onHeldCall?: (control: InboundCallControl, call: HeldInboundCall) => void;
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
  /** Whether this instance runs the portal's link (server/cluster/ownership.ts). Default: every portal. */
  owns?: (memberId: string) => boolean;
  /** Whether the portal's lease is still this instance's while it is given up (link-lifecycle.ts). Default: owns. */
  holds?: (memberId: string) => boolean;
  /**
   * Webhook mode, several instances: hands a push (its signature checked here) for a portal whose link runs on
   * another instance to that instance, resolving once it took the event (webhook-routing.ts). Absent: refused.
   */
  handPushToOwner?: (memberId: string, event: unknown) => Promise<void>;
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
  /** A push another instance received and checked, given to this portal's open webhook link; false when none runs here. */
  acceptPushedEvent(memberId: string, event: unknown): boolean;
  /**
   * Several instances: a recording of a portal whose link runs on another instance, fetched from the PBX here with
   * that instance's grant (no login here), through the same address policy as the links.
   */
  downloadGrantedRecording(memberId: string, ref: CallRecordingRef, grant: RecordingGrant): Promise<RecordingDownload>;
}

export function createPbxSupervisor(opts: PbxSupervisorOptions): PbxSupervisor {
  const log = opts.log.child({ part: 'pbx-supervisor' });
  const tailMs = opts.recoveryTailMs ?? 20_000;
  const tickMs = opts.coverageTickMs ?? 5_000;
  const addressPolicy: AddressPolicy = {
    allowLoopback: opts.config.pbxAllowLoopback,
    allowPrivate: opts.config.pbxAllowPrivate,
    ...(opts.lookup ? { lookup: opts.lookup } : {}),
  };
  const state: LinkStateFile = opts.store.linkMarks ?? createLinkStateFile(opts.statePath ?? join(opts.config.dataDir, 'pbx-links.json'), { log });
  const lifecycle = createLinkLifecycle({
    store: opts.store, log, state, addressPolicy, createAdapter: opts.createAdapter,
    onCallEvent: opts.onCallEvent, ...(opts.onHeldCall ? { onHeldCall: opts.onHeldCall } : {}),
    webhookKeyProblem: () => webhooks.problem(),
    owns: opts.owns ?? (() => true),
    holds: opts.holds ?? opts.owns ?? (() => true),
    recovery: {
      marginMs: opts.recoveryMarginMs ?? 2 * 60_000, tailMs,
      retryMs: opts.recoveryRetryMs ?? 15_000, webhookSweepMs: opts.webhookSweepMs ?? 5 * 60_000,
    },
  });
  const webhooks = createWebhookRouting({
    store: opts.store, dataDir: opts.config.dataDir, log, links: () => lifecycle.links(),
    ...(opts.createWebhookRouter ? { createRouter: opts.createWebhookRouter } : {}),
    ...(opts.owns ? { owns: opts.owns } : {}),
    ...(opts.handPushToOwner ? { handOver: opts.handPushToOwner } : {}),
  });
  let tick: ReturnType<typeof setInterval> | undefined;
  let started = false;

  return {
    async start() {
      if (started) return;
      started = true;
      await state.load();
      await webhooks.load(state);
      lifecycle.start();
      tick = setInterval(() => {
        const now = Date.now();
        // Webhook links move the mark with their sweeps only (a push lost in transit leaves no trace).
        for (const link of lifecycle.links()) if (link.settings.events === 'websocket') link.recovery.coverUpTo(now);
      }, tickMs);
      tick.unref?.();
      await Promise.all(opts.store.portals.list().map((p) => lifecycle.reconcile(p.memberId)));
    },
    async stop() {
      started = false;
      if (tick !== undefined) clearInterval(tick);
      tick = undefined;
      await lifecycle.stop();
      await state.flush();
    },
    reconcile: (memberId) => lifecycle.reconcile(memberId),
    status: (memberId) => lifecycle.status(memberId),
    adapter: (memberId) => lifecycle.get(memberId)?.adapter,
    linksUp: () => lifecycle.links().filter((l) => l.adapter.status().state === 'connected').length,
    testConnection: (settings) => testPbxConnection(settings, { createAdapter: opts.createAdapter, addressPolicy, log }),
    webhookRouter: () => webhooks.router(),
    webhookKey: (memberId) => webhooks.keyOf(memberId),
    webhookPath: (memberId) => `/pbx/webhook/${webhooks.keyOf(memberId)}`,
    acceptPushedEvent: (memberId, event) => webhooks.acceptPushed(memberId, event),
    async downloadGrantedRecording(memberId, ref, grant) {
      const settings = opts.store.settings.get(memberId).pbx;
      if (!opts.downloadGrantedRecording || !settings) throw new PbxError('PBX_UNREACHABLE', 'this portal\'s PBX is not set up here');
      return opts.downloadGrantedRecording(memberId, settings, { ...grant, filename: grant.filename || ref.filename }, { log, addressPolicy });
    },
  };
}
