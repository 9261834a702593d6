import pg from 'pg';
import { z } from 'zod';
import type { Logger } from '../../log.js';

/**
 * The instance's one LISTEN connection to the shared database (design §6, docs/cluster.md): `store_changed` tells
 * every instance which record another instance wrote (the store reloads that row into memory), `portal_work` wakes
 * a portal's owner to claim work a non-owner wrote for it. Payloads carry ids only, never secrets: any session of
 * the database may LISTEN.
 *
 * A dedicated client, not a pool's: a LISTEN belongs to its session. When the link drops (the database restarted, a
 * network cut) it reconnects with a jittered backoff (1 s doubling to 30 s, as the PBX link does) and, once listening
 * again, tells `onResync` listeners: notifications sent while it was away are lost, so what may have changed must be
 * read again.
 */

export const STORE_CHANGED = 'store_changed';
export const PORTAL_WORK = 'portal_work';

const storeChange = z.object({
  kind: z.enum(['portal', 'settings', 'bindings', 'contact-sync', 'missed-call-tasks', 'link-mark', 'call', 'outbox']),
  memberId: z.string(),
  key: z.string().optional(),
  from: z.string().optional(),
});
export type StoreChange = z.infer<typeof storeChange>;

const portalWork = z.object({ memberId: z.string(), id: z.string().optional(), from: z.string().optional() });
export type PortalWorkSignal = z.infer<typeof portalWork>;

export interface ClusterNotifier {
  readonly instanceId: string;
  onStoreChanged(listener: (change: StoreChange) => void): void;
  onPortalWork(listener: (signal: PortalWorkSignal) => void): void;
  /**
   * After the link came back: notifications may have been lost meanwhile. `since`: the database's clock when the
   * link was last known to be up (a ping), minus a margin.
   */
  onResync(listener: (since: Date) => void | Promise<void>): void;
  /** Wakes the owner of a portal (any instance may send it; the owner claims the rows). */
  wakeOwner(pool: Pick<pg.Pool, 'query'>, memberId: string, id: string): Promise<void>;
  /** True while the LISTEN connection is up. */
  listening(): boolean;
  close(): Promise<void>;
}

export interface ClusterNotifierOptions {
  databaseUrl: string;
  instanceId: string;
  log: Logger;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** How often the link is checked with a query (a half-open TCP connection is found this way). */
  pingMs?: number;
}

/** Transactions committed this long before the last ping may still have been announced after it. */
const RESYNC_MARGIN_MS = 5_000;

/** PostgreSQL truncates application_name to 63 bytes: the id a writer's trigger reports is cut the same way. */
export function applicationName(instanceId: string): string {
  return Buffer.from(instanceId, 'utf8').subarray(0, 63).toString('utf8').replace(/\uFFFD$/, '');
}

/** Opens the LISTEN connection; resolves once it listens (the first connection must work: the store needs it). */
export async function startClusterNotifier(opts: ClusterNotifierOptions): Promise<ClusterNotifier> {
  const log = opts.log.child({ part: 'cluster-notify' });
  const self = applicationName(opts.instanceId);
  const initialMs = opts.backoffInitialMs ?? 1_000;
  const maxMs = opts.backoffMaxMs ?? 30_000;
  const changeListeners: ((change: StoreChange) => void)[] = [];
  const workListeners: ((signal: PortalWorkSignal) => void)[] = [];
  const resyncListeners: ((since: Date) => void | Promise<void>)[] = [];
  let client: pg.Client | undefined;
  let closed = false;
  let listeningNow = false;
  /** The database's clock at the last answer on the LISTEN link. */
  let heard = new Date(0);
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const ping = async (on: pg.Client): Promise<void> => {
    const { rows } = await on.query<{ now: Date }>('SELECT now() AS now');
    if (rows[0]) heard = rows[0].now;
  };
  const pinger = setInterval(() => {
    const current = client;
    if (current) ping(current).catch(() => lost(current));
  }, opts.pingMs ?? 10_000);
  pinger.unref?.();

  const dispatch = (msg: pg.Notification): void => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(msg.payload ?? '');
    } catch {
      log.warn({ channel: msg.channel }, 'a cluster notification that is not JSON was ignored');
      return;
    }
    if (msg.channel === STORE_CHANGED) {
      const change = storeChange.safeParse(parsed);
      if (!change.success) return void log.warn({ channel: msg.channel }, 'a malformed store_changed notification was ignored');
      if (change.data.from === self) return;
      for (const listener of changeListeners) listener(change.data);
    } else if (msg.channel === PORTAL_WORK) {
      const signal = portalWork.safeParse(parsed);
      if (!signal.success) return void log.warn({ channel: msg.channel }, 'a malformed portal_work notification was ignored');
      for (const listener of workListeners) listener(signal.data);
    }
  };

  const connect = async (): Promise<void> => {
    const next = new pg.Client({ connectionString: opts.databaseUrl, application_name: self, connectionTimeoutMillis: 10_000, keepAlive: true });
    next.on('notification', dispatch);
    next.on('error', (err) => {
      log.warn({ err: err.message }, 'the LISTEN connection failed; reconnecting');
      lost(next);
    });
    next.on('end', () => lost(next));
    await next.connect();
    await next.query(`LISTEN ${STORE_CHANGED}`);
    await next.query(`LISTEN ${PORTAL_WORK}`);
    client = next;
    listeningNow = true;
  };

  const lost = (which: pg.Client): void => {
    if (client !== which) return;
    client = undefined;
    listeningNow = false;
    which.end().catch(() => undefined);
    schedule();
  };

  const schedule = (): void => {
    if (closed || timer !== undefined) return;
    const base = Math.min(maxMs, initialMs * 2 ** attempt);
    attempt += 1;
    timer = setTimeout(() => {
      timer = undefined;
      void reconnect();
    }, base / 2 + Math.random() * (base / 2));
    timer.unref?.();
  };

  const reconnect = async (): Promise<void> => {
    if (closed) return;
    try {
      await connect();
    } catch (err) {
      log.warn({ err: err instanceof Error ? err.message : String(err), attempt }, 'the LISTEN connection could not be opened; retrying');
      schedule();
      return;
    }
    attempt = 0;
    const since = new Date(heard.getTime() - RESYNC_MARGIN_MS);
    log.info({ lastHeard: heard.toISOString() }, 'listening again: reloading what may have changed meanwhile');
    const current = client;
    if (current) await ping(current).catch(() => undefined);
    for (const listener of resyncListeners) {
      await Promise.resolve(listener(since)).catch((err: unknown) => log.error({ err }, 'reload after reconnect failed'));
    }
  };

  await connect();
  if (client) await ping(client);

  return {
    instanceId: opts.instanceId,
    onStoreChanged: (listener) => void changeListeners.push(listener),
    onPortalWork: (listener) => void workListeners.push(listener),
    onResync: (listener) => void resyncListeners.push(listener),
    async wakeOwner(pool, memberId, id) {
      await pool.query('SELECT pg_notify($1, $2)', [PORTAL_WORK, JSON.stringify({ memberId, id, from: self })]);
    },
    listening: () => listeningNow,
    async close() {
      closed = true;
      clearInterval(pinger);
      if (timer !== undefined) clearTimeout(timer);
      const current = client;
      client = undefined;
      await current?.end().catch(() => undefined);
    },
  };
}
