import type { Router } from 'express';
import type { Logger } from '../log.js';
import type { PbxAdapter, PbxConnectionSettings, RecordingDownload, RecordingGrant } from './adapter.js';
import type { AddressPolicy } from './address-guard.js';

/**
 * What a PBX brand gives the generic PBX code (supervisor.ts and its parts): its adapter and its webhook endpoint.
 * The composition root (server/parts.ts) picks the brand — Yeastar today, pbx/yeastar/brand.ts — and hands it in,
 * so nothing outside pbx/<brand>/ imports a brand's files and a second brand plugs in without touching them.
 */

/** What the supervisor tells an adapter it creates: where to log, which PBX addresses it may connect to. */
export interface PbxAdapterContext {
  log: Logger;
  addressPolicy: AddressPolicy;
}

export type PbxAdapterFactory = (portal: string, settings: PbxConnectionSettings, context: PbxAdapterContext) => PbxAdapter;

/**
 * The portal a webhook key belongs to, with what its push handler needs: `deliver` when its link runs here (the PBX
 * is answered at once, the event handled after), or `handOver` when it runs on another instance (several instances
 * on PostgreSQL): the PBX is answered only once that instance took the event, and with 503 when it did not.
 */
export type WebhookTarget = { portal: string; webhookSecret: string } & (
  | { deliver: (event: unknown) => void }
  | { handOver: (event: unknown) => Promise<void> }
);

export interface PbxWebhookDeps {
  log: Logger;
  /** The portal of an unguessable path key (pbx/webhook-routing.ts), undefined for an unknown key. */
  resolve: (portalKey: string) => WebhookTarget | undefined;
  /** Largest body accepted (express/bytes syntax). */
  limit?: string;
}

/** `POST /pbx/webhook/:portalKey`: checks the brand's signature and hands the event to the portal's adapter. */
export type PbxWebhookRouterFactory = (deps: PbxWebhookDeps) => Router;

/** Fetches one recording with another instance's grant (PbxAdapter.grantRecordingDownload), without logging in. */
export type PbxGrantedDownload = (portal: string, settings: PbxConnectionSettings, grant: RecordingGrant, context: PbxAdapterContext) => Promise<RecordingDownload>;

export interface PbxBrand {
  createAdapter: PbxAdapterFactory;
  createWebhookRouter: PbxWebhookRouterFactory;
  downloadGrantedRecording: PbxGrantedDownload;
}
