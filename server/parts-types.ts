/**
 * The seam of the composition root: what the core (server/index.ts) hands to the product's parts and what the parts
 * (server/parts.ts) give back. Its own module so that index.ts imports parts.ts and parts.ts imports only these
 * types, not index.ts (the two used to import each other).
 */
import type { Router } from 'express';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import type { Store } from './store/types.js';
import type { Outbox } from './outbox/types.js';
import type { PortalBitrixClients } from './bitrix/client.js';
import type { TelephonyEventHandlers } from './calls/types.js';
import type { PbxLinkStatus } from './pbx/adapter.js';
import type { RuntimeGauges } from './http/health.js';
import type { CrmChangeEvents } from './contacts/types.js';
import type { Ownership } from './cluster/ownership.js';

/** What the core (store, Bitrix24 clients, outbox) hands to the parts built on top of it. */
export interface CoreServices {
  config: Config;
  log: Logger;
  store: Store;
  clients: PortalBitrixClients;
  outbox: Outbox;
  /** Which portals this instance runs live work for (server/cluster/: PostgreSQL leases); absent: every portal (tests that wire parts by hand). */
  ownership?: Ownership;
}

/** What the PBX supervisor, calls service and contacts give back to the HTTP app. */
export interface ProductParts {
  telephonyEvents: TelephonyEventHandlers;
  /** Optional: Bitrix24 CRM change events (contact sync). */
  crmEvents?: CrmChangeEvents;
  pbxStatus(memberId: string): PbxLinkStatus;
  onPortalRemoved(memberId: string): Promise<void> | void;
  /** Optional: a (re-)install finished. */
  onPortalInstalled?(memberId: string): Promise<void> | void;
  apiRouters: Router[];
  /** /api routes any employee may write to: Bitrix24 judges the write with their own token (see http/app.ts). */
  agentApiRouters?: Router[];
  rootRouters: Router[];
  gauges: RuntimeGauges;
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * This instance took the portal over (server/cluster/): its open calls resume and its PBX link opens. Optional:
   * parts without per-portal live work leave it out.
   */
  startPortal?(memberId: string): Promise<void>;
  /** Another instance owns the portal now (or this one stops): its PBX link closes and its call timers stop. */
  stopPortal?(memberId: string): Promise<void>;
}

export type PartsFactory = (core: CoreServices) => ProductParts | Promise<ProductParts>;
