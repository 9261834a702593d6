import { createSecretBox } from '../../crypto.js';
import { AppError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { composeStore, repairFences } from '../compose.js';
import { createPortalFences } from '../fences.js';
import type { Store } from '../types.js';
import { createPgCallsRepository } from './calls.js';
import { createPool, PgContext, redactUrl, withAdvisoryLock } from './db.js';
import { createCoherence } from './coherence.js';
import { applicationName, startClusterNotifier, type ClusterNotifier, type StoreChange } from './notify.js';
import { defaultInstanceId } from '../../instance-id.js';
import {
  bindingsTable, contactSyncTable, missedCallTasksTable, PgPortalDocuments, PgPortalsDocument, settingsTable,
} from './documents.js';
import { createPgLinkMarks } from './link-marks.js';
import { migrate, schemaVersion } from './migrate.js';
import { createPgOutboxRepository } from './outbox.js';
import { createPgWebhookKey } from './server-keys.js';

export interface OpenPostgresStoreOptions {
  databaseUrl: string;
  secretKey: string;
  log: Logger;
  now?: () => number;
  /** This instance among those sharing the database (default: server/instance-id.ts). */
  instanceId?: string;
  /** Reconnect backoff of the LISTEN link (tests shorten it). */
  listenBackoff?: { initialMs: number; maxMs: number };
}

/** /healthz must answer quickly even when the database hangs. */
const HEALTH_TIMEOUT_MS = 2_000;

/**
 * The PostgreSQL store (DATABASE_URL): the same Store as the file store, over tables (migrations/*.sql, applied at
 * open under an advisory lock). Secrets are sealed exactly as in the file store (store/secrets.ts), with the same key.
 * Reads are served from memory, loaded at open; every write is in the database before its promise resolves.
 * Owner writes (calls, outbox, contact sync, missed-call tasks, link marks) carry the portal's lease epoch
 * (`database.setEpoch`), checked in the same statement (design §6); until leases are taken nothing is fenced.
 */
export async function openPostgresStore(opts: OpenPostgresStoreOptions): Promise<Store> {
  const log = opts.log.child({ part: 'store', store: 'postgres' });
  const instanceId = opts.instanceId ?? defaultInstanceId();
  const pool = createPool(opts.databaseUrl, applicationName(instanceId));
  let notifier: ClusterNotifier | undefined;
  try {
    const version = await migrate(pool, log);
    // Listening starts before anything is loaded: a write another instance commits during the load is announced
    // after this point and read again once the load is done.
    notifier = await startClusterNotifier({
      databaseUrl: opts.databaseUrl, instanceId, log,
      ...(opts.listenBackoff ? { backoffInitialMs: opts.listenBackoff.initialMs, backoffMaxMs: opts.listenBackoff.maxMs } : {}),
    });
    return await openWith(pool, notifier, version, opts, log);
  } catch (err) {
    await notifier?.close();
    await pool.end().catch(() => undefined);
    if (err instanceof AppError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new AppError('STORE_UNAVAILABLE', `cannot open the PostgreSQL store at ${redactUrl(opts.databaseUrl)}: ${reason}`, 500, undefined, err);
  }
}

async function openWith(
  pool: PgContext['pool'], notifier: ClusterNotifier, version: number, opts: OpenPostgresStoreOptions, log: Logger,
): Promise<Store> {
  // Changes announced while the records load are applied once they are loaded.
  const early: StoreChange[] = [];
  const sink: { apply?: (change: StoreChange) => void } = {};
  notifier.onStoreChanged((change) => {
    if (sink.apply) sink.apply(change);
    else early.push(change);
  });
  const ctx = new PgContext(pool);
  const now = opts.now ?? Date.now;
  const fences = createPortalFences(now);
  const box = createSecretBox(opts.secretKey);

  const portalsDoc = new PgPortalsDocument(ctx);
  const settingsDocs = new PgPortalDocuments(ctx, settingsTable, () => ({}));
  const bindingsDocs = new PgPortalDocuments(ctx, bindingsTable, () => ({ bindings: [] }));
  const contactDocs = new PgPortalDocuments(ctx, contactSyncTable, () => ({ entries: {} }));
  const missedDocs = new PgPortalDocuments(ctx, missedCallTasksTable, () => ({ open: {} }));
  const calls = createPgCallsRepository(ctx, fences);
  const outbox = createPgOutboxRepository(ctx, fences, now);
  await Promise.all([portalsDoc.load(), settingsDocs.load(), bindingsDocs.load(), contactDocs.load(), missedDocs.load(), calls.load(), outbox.load()]);

  const linkMarks = createPgLinkMarks(ctx, log);
  const store = composeStore(
    { portals: portalsDoc, settings: settingsDocs, bindings: bindingsDocs, contactSync: contactDocs, missedCallTasks: missedDocs },
    { calls, outbox }, box, fences, log,
    (memberId) => {
      linkMarks.forget(memberId);
      return Promise.resolve();
    },
  );
  const { portals, settings } = store;
  const coherence = createCoherence({
    portalsDoc, portals, settingsDocs, settings, bindingsDocs, contactDocs, missedDocs, calls, outbox, linkMarks,
  }, log.child({ part: 'coherence' }));
  sink.apply = (change) => coherence.changed(change);
  for (const change of early.splice(0)) coherence.changed(change);
  notifier.onResync((since) => coherence.resync(since));
  log.info({ schemaVersion: version, portals: portals.list().length, instanceId: notifier.instanceId }, 'PostgreSQL store open');

  return {
    ...store,
    linkMarks,
    database: {
      kind: 'postgres',
      async check() {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${HEALTH_TIMEOUT_MS} ms`)), HEALTH_TIMEOUT_MS);
        });
        try {
          const current = await Promise.race([schemaVersion(pool), timeout]);
          return { reachable: true, schemaVersion: current };
        } catch (err) {
          return { reachable: false, error: err instanceof Error ? err.message : String(err) };
        } finally {
          clearTimeout(timer);
        }
      },
      setEpoch: (memberId, epoch) => ctx.setEpoch(memberId, epoch),
      reloadPortal: async (memberId) => {
        await Promise.all([
          outbox.reloadPortal(memberId), calls.reloadPortal(memberId), contactDocs.reload(memberId), missedDocs.reload(memberId), linkMarks.reload(memberId),
        ]);
      },
      instanceId: notifier.instanceId,
      pool,
      notifier,
      settled: () => coherence.settled(),
      onRemoteChange: (listener) => coherence.onApplied(listener),
      reloadPortalRecord: async (memberId) => {
        await portals.refresh(() => portalsDoc.reload(memberId));
      },
      withPortalLock: (memberId, purpose, task) => withAdvisoryLock(pool, `${purpose}:${memberId}`, task),
      webhookKey: createPgWebhookKey(pool, box, notifier.instanceId),
      secrets: { seal: (plain) => box.seal(plain), open: (sealed) => box.open(sealed) },
    },
    // Only a sealed PBX secret that does not open can fence a portal here (there are no files to be damaged):
    // the repair starts its settings afresh, as the file store does with settings.json.
    repairPortal: (memberId) => repairFences(fences, memberId, async (fence) => {
      if (fence.file !== 'settings.json') return undefined;
      await settingsDocs.remove(memberId);
      settings.forget(memberId);
      fences.lift(memberId, 'settings.json');
      log.warn({ portal: memberId }, 'repair: the portal\'s unreadable settings were deleted; the portal starts them afresh');
      return '(deleted from the database)';
    }),
    async close() {
      await notifier.close();
      await coherence.settled();
      await Promise.all([portalsDoc.settled(), ctx.idle()]);
      await linkMarks.flush().catch(() => undefined);
      await pool.end();
    },
  };
}
