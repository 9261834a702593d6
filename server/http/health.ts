import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type Request, type Response } from 'express';
import { notFound, unauthorized } from '../errors.js';
import type { Store } from '../store/types.js';
import type { Outbox } from '../outbox/types.js';
import { processEventLoopDelay, type EventLoopDelay } from './event-loop.js';

/** Counters owned by other parts (calls/, pbx/), read when /metrics is scraped. */
export interface RuntimeGauges {
  callsInFlight(): number;
  pbxLinksUp(): number;
  /** This instance among several (server/cluster/): portals it owns, lease changes, live instances seen. */
  cluster?(): { instanceId: string; owned: number; leaseChanges: number; instances: number };
}

export interface HealthDeps {
  store: Store;
  outbox: Outbox;
  restRequests(): number;
  restErrors(): number;
  gauges: RuntimeGauges;
  httpErrors(): number;
  /** /metrics needs `Authorization: Bearer <metricsToken>`; undefined: /metrics is not served at all (404). */
  metricsToken?: string;
  startedAt: number;
  now?: () => number;
  /** Defaults to the process-wide monitor (event-loop.ts). */
  eventLoop?: EventLoopDelay;
  /** Defaults to process.memoryUsage.rss. */
  rssBytes?: () => number;
  /** Defaults to process.memoryUsage().heapUsed. */
  heapUsedBytes?: () => number;
}

export type DatabaseHealth = Awaited<ReturnType<NonNullable<Store['database']>['check']>>;

/** Prometheus text exposition format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/). */
export function renderMetrics(deps: HealthDeps, database?: DatabaseHealth): string {
  const portals = deps.store.portals.list();
  let pending = 0;
  let failed = 0;
  for (const p of portals) {
    const s = deps.outbox.stats(p.memberId);
    pending += s.pending;
    failed += s.failed;
  }
  const metric = (name: string, type: 'gauge' | 'counter', help: string, value: number) =>
    `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${Number.isFinite(value) ? value : 0}\n`;
  return [
    metric('pbxb24_calls_in_flight', 'gauge', 'PBX calls currently live', deps.gauges.callsInFlight()),
    metric('pbxb24_outbox_pending', 'gauge', 'Bitrix24 writes waiting in the outbox', pending),
    metric('pbxb24_outbox_failed', 'gauge', 'Bitrix24 writes parked as failed', failed),
    metric('pbxb24_bitrix_requests_total', 'counter', 'HTTP requests sent to Bitrix24', deps.restRequests()),
    metric('pbxb24_bitrix_errors_total', 'counter', 'Bitrix24 REST errors', deps.restErrors()),
    metric('pbxb24_http_errors_total', 'counter', 'HTTP answers with status 5xx', deps.httpErrors()),
    metric('pbxb24_pbx_links_up', 'gauge', 'PBX links connected', deps.gauges.pbxLinksUp()),
    metric('pbxb24_portals', 'gauge', 'Portals known', portals.length),
    metric('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes', (deps.rssBytes ?? process.memoryUsage.rss)()),
    metric('nodejs_heap_size_used_bytes', 'gauge', 'V8 heap in use, bytes', (deps.heapUsedBytes ?? (() => process.memoryUsage().heapUsed))()),
    metric('pbxb24_store_postgres', 'gauge', 'Store kind: 1 PostgreSQL (DATABASE_URL), 0 the file store in DATA_DIR', deps.store.database ? 1 : 0),
    ...(database ? [metric('pbxb24_store_database_up', 'gauge', 'PostgreSQL store reachable (1) or not (0) at this scrape', database.reachable ? 1 : 0)] : []),
    clusterGauges(deps.gauges),
    eventLoopGauges(deps.eventLoop ?? processEventLoopDelay()),
  ].join('');
}

/** The names the cluster contract fixed (/work/wt/s4-cluster-contract.md), labelled with this instance's id. */
function clusterGauges(gauges: RuntimeGauges): string {
  const cluster = gauges.cluster?.();
  if (!cluster) return '';
  const label = `{instance="${cluster.instanceId.replace(/["\\\n]/g, '_')}"}`;
  return [
    '# HELP pbxb24_portals_owned Portals whose live work (PBX link, outbox) runs on this instance',
    '# TYPE pbxb24_portals_owned gauge',
    `pbxb24_portals_owned${label} ${cluster.owned}`,
    '# HELP pbxb24_lease_changes_total Portal leases this instance took or gave up',
    '# TYPE pbxb24_lease_changes_total counter',
    `pbxb24_lease_changes_total${label} ${cluster.leaseChanges}`,
    '# HELP pbxb24_cluster_instances Instances alive on the database (heartbeat younger than the lease TTL)',
    '# TYPE pbxb24_cluster_instances gauge',
    `pbxb24_cluster_instances ${cluster.instances}`,
  ].join('\n') + '\n';
}

/** Event-loop delay of the last completed slice (event-loop.ts), in seconds: a gauge per quantile, since it is a window. */
function eventLoopGauges(loop: EventLoopDelay): string {
  const slice = loop.lastSlice();
  const name = 'pbxb24_event_loop_delay_seconds';
  const quantiles: [string, number][] = [['0.5', slice.p50Ms], ['0.9', slice.p90Ms], ['0.99', slice.p99Ms], ['1', slice.maxMs]];
  return [
    `# HELP ${name} Event-loop delay over the last ${slice.sliceMs / 1000} s slice (perf_hooks.monitorEventLoopDelay)`,
    `# TYPE ${name} gauge`,
    ...quantiles.map(([q, ms]) => `${name}{quantile="${q}"} ${ms / 1000}`),
    '# HELP pbxb24_event_loop_slice_end_seconds When the reported event-loop slice ended (0: none completed yet)',
    '# TYPE pbxb24_event_loop_slice_end_seconds gauge',
    `pbxb24_event_loop_slice_end_seconds ${slice.endedAt / 1000}`,
  ].join('\n') + '\n';
}

export function healthRouter(deps: HealthDeps): express.Router {
  const router = express.Router();
  const now = deps.now ?? Date.now;
  router.get('/healthz', async (_req: Request, res: Response) => {
    const uptimeSeconds = Math.round((now() - deps.startedAt) / 1000);
    const cluster = deps.gauges.cluster?.();
    const instance = cluster ? { instance: cluster.instanceId, owned: cluster.owned } : {};
    if (!deps.store.database) {
      res.json({ ok: true, uptimeSeconds, store: 'file', ...instance });
      return;
    }
    // An unreachable database makes the instance unhealthy (503): it can neither persist a call event nor take work.
    const database = await deps.store.database.check();
    res.status(database.reachable ? 200 : 503).json({ ok: database.reachable, uptimeSeconds, store: 'postgres', database, ...instance });
  });
  router.get('/metrics', async (req: Request, res: Response) => {
    // Not served without a token: the public port is the internet's, and the figures (portals, calls, errors) are not.
    // Answered like any unknown path, so a scan learns nothing.
    if (deps.metricsToken === undefined) throw notFound('not found');
    if (!bearerMatches(req.get('authorization'), deps.metricsToken)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
      throw unauthorized('/metrics needs Authorization: Bearer <METRICS_TOKEN>');
    }
    const database = deps.store.database ? await deps.store.database.check() : undefined;
    res.type('text/plain; version=0.0.4').send(renderMetrics(deps, database));
  });
  return router;
}

/** Constant-time: both sides hashed to the same length first, so neither the token's length nor a prefix leaks. */
function bearerMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer\s+(\S+)$/.exec(header ?? '')?.[1];
  if (!given) return false;
  const digest = (v: string) => createHash('sha256').update(v, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(token));
}
