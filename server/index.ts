import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { RestrictionParams } from '@bitrix24/b24jssdk';
import type { Config } from './config.js';
import { APP_SCOPES } from './bitrix/scopes.js';
import { startWarnings } from './start-warnings.js';
import { createLogger, type Logger } from './log.js';
import { lockDataDir, openStore, resolveSecretKey, type DataDirLock } from './store/index.js';
import { createOutbox } from './outbox/index.js';
import { createBitrixClients } from './bitrix/client.js';
import { createApp } from './http/app.js';
import type { FrameAuthTuning } from './http/middleware/frame-auth.js';
import { createProductParts } from './parts.js';
import { createLeaseOwnership } from './cluster/lease-ownership.js';
import { singleInstanceOwnership, type Ownership } from './cluster/ownership.js';
import type { CoreServices, PartsFactory, ProductParts } from './parts-types.js';

export interface StartOptions {
  log?: Logger;
  /** Builds the PBX supervisor, calls and contacts over the core. See `wireParts` below. */
  parts?: PartsFactory;
  /** SDK retry/limit overrides (tests). */
  bitrixRestriction?: Partial<RestrictionParams>;
  /** Outbox backoff override (tests). */
  outboxBackoff?: (attempt: number) => number;
  frameAuthTtlMs?: number;
  /** Frame-auth TTLs, miss limits and clock (tests). */
  frameAuth?: FrameAuthTuning;
}

export interface RunningServer {
  url: string;
  close(): Promise<void>;
  services: CoreServices & { parts: ProductParts };
}

/** The product's parts with production defaults (server/parts.ts). */
export const wireParts: PartsFactory = (core) => createProductParts(core);

/**
 * The composition root: DATA_DIR lock → config → secret key → store → Bitrix24 clients → outbox → parts → HTTP →
 * listen. The lock comes first: a second process on the same DATA_DIR stops here with DATA_DIR_LOCKED, before it
 * has read (or made up) anything in it.
 */
export async function startServer(config: Config, opts: StartOptions = {}): Promise<RunningServer> {
  const root = opts.log ?? createLogger(config.logLevel);
  // Several instances may share a database: every line says which one wrote it (one instance on files needs no name).
  const log = config.databaseUrl !== undefined ? root.child({ instance: config.instanceId }) : root;
  const lock = await lockDataDir(config.dataDir, log);
  try {
    return await startLocked(config, opts, log, lock);
  } catch (err) {
    await lock.release();
    throw err;
  }
}

async function startLocked(config: Config, opts: StartOptions, log: Logger, lock: DataDirLock): Promise<RunningServer> {
  const secretKey = await resolveSecretKey(config.dataDir, config.secretKey, log);
  const store = await openStore({
    dataDir: config.dataDir, secretKey, log, instanceId: config.instanceId,
    ...(config.databaseUrl !== undefined ? { databaseUrl: config.databaseUrl } : {}),
  });
  const clients = createBitrixClients({ store, config, log: log.child({ part: 'bitrix' }), restriction: opts.bitrixRestriction });
  const ownership = createOwnership(config, store, log);
  const outbox = createOutbox({
    store, clients, log: log.child({ part: 'outbox' }), maxAttempts: config.outboxMaxAttempts,
    ...(opts.outboxBackoff ? { backoff: opts.outboxBackoff } : {}),
    owns: (portal) => ownership.owns(portal),
  });
  const core: CoreServices = { config, log, store, clients, outbox, ownership };
  const parts = await (opts.parts ?? wireParts)(core);
  // A portal's live work runs where its lease is (design §6): started once the lease is held, on the durable state
  // the former owner left; stopped before the lease is given up, so its PBX link is closed before another opens one.
  ownership.onGained(async (memberId) => {
    await store.database?.reloadPortal(memberId);
    outbox.resume(memberId);
    await parts.startPortal?.(memberId);
  });
  ownership.onLost(async (memberId) => {
    await parts.stopPortal?.(memberId);
    await outbox.stopPortal(memberId);
  });

  const background = new Set<Promise<unknown>>();
  const app = createApp({
    config, log, store, outbox, clients,
    telephonyEvents: parts.telephonyEvents,
    ...(parts.crmEvents ? { crmEvents: parts.crmEvents } : {}),
    pbxStatus: (memberId) => parts.pbxStatus(memberId),
    onPortalRemoved: (memberId) => parts.onPortalRemoved(memberId),
    onPortalInstalled: async (memberId) => {
      await ownership.portalAdded(memberId);
      await parts.onPortalInstalled?.(memberId);
    },
    apiRouters: parts.apiRouters,
    ...(parts.agentApiRouters ? { agentApiRouters: parts.agentApiRouters } : {}),
    rootRouters: parts.rootRouters,
    gauges: { ...parts.gauges, cluster: () => ({ instanceId: ownership.instanceId, ...ownership.stats() }) },
    frameAuthTtlMs: opts.frameAuthTtlMs,
    frameAuth: opts.frameAuth,
    track: (work) => {
      background.add(work);
      void work.finally(() => background.delete(work));
    },
  });

  outbox.start();
  await parts.start();
  await ownership.start();
  const server: Server = app.listen(config.port, config.host);
  // Idle keep-alive connections are closed by the client (reverse proxy, Bitrix24), not by us: a server that closes
  // one while the client is writing a new request on it makes the client read ECONNRESET (a 502 at a proxy). Node's
  // default of 5 s is below every common proxy's idle timeout (nginx 60 s, AWS ALB 60 s); headers must outlast it.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `http://${host}:${port}`;
  log.info({ url, publicUrl: config.publicUrl, dataDir: config.dataDir }, 'listening');
  log.info({
    handlerUrl: `${config.publicUrl}/`,
    installerUrl: `${config.publicUrl}/install`,
    eventsUrl: `${config.publicUrl}/b24/events`,
    scopes: APP_SCOPES.join(', '),
  }, 'Bitrix24 app URLs: paste the handler and installer URLs into the app settings');
  for (const warning of startWarnings(config)) log.warn({ code: warning.code }, warning.message);

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await Promise.allSettled([...background]);
      // Links closed and leases released before the store closes: another instance takes the portals at once.
      await ownership.close();
      await parts.stop();
      await outbox.stop();
      await store.close();
      await lock.release();
      log.info('stopped');
    })();
    return closing;
  };
  return { url, close, services: { ...core, parts } };
}

/**
 * With PostgreSQL, portals are owned through leases (several instances may share the database); with the file store
 * this one instance owns every portal.
 */
function createOwnership(config: Config, store: Awaited<ReturnType<typeof openStore>>, log: Logger): Ownership {
  if (config.databaseUrl !== undefined && store.database) {
    return createLeaseOwnership({ databaseUrl: config.databaseUrl, instanceId: config.instanceId, ttlMs: config.leaseTtlMs, log, fencing: store.database });
  }
  return singleInstanceOwnership(config.instanceId, () => store.portals.list().map((p) => p.memberId), (err) => {
    log.error({ err }, 'starting or stopping a portal\'s live work failed');
  });
}
