import type { Config } from '../../server/config.js';
import type { Logger } from '../../server/log.js';
import { startServer, type RunningServer, type StartOptions } from '../../server/index.js';
import { createProductParts, type PartsOptions } from '../../server/parts.js';

/**
 * The real product (startServer with server/parts.ts) with its timers shortened so a fault that takes minutes in
 * production plays out in seconds: quick PBX reconnects and recovery passes, a short CDR wait, quick outbox retries.
 * Shared by the in-process stack and the child process the SIGKILL tests start.
 */
/** Timers of the PBX link, recovery, CDR wait and recording retries, shortened for tests (production in the comments of each part). */
export function fastPartsOptions(calls: Partial<NonNullable<PartsOptions['calls']>> = {}): PartsOptions {
  return {
    yeastarTimings: { settleMs: 150, heartbeatMs: 500, backoffInitialMs: 50, backoffMaxMs: 300, subscribeTimeoutMs: 2_000 },
    supervisor: { coverageTickMs: 200, recoveryRetryMs: 300, recoveryTailMs: 800 },
    // Recording retries scaled like the rest (production: 30 s, doubling).
    calls: { cdrWaitMs: 4_000, recordings: { retryBaseMs: 1_000 }, ...calls },
  };
}

export function startProduct(config: Config, log: Logger, extra: Partial<StartOptions> = {}): Promise<RunningServer> {
  return startServer(config, {
    log,
    bitrixRestriction: { maxRetries: 2, retryDelay: 50 },
    outboxBackoff: () => 150,
    parts: (core) => createProductParts(core, fastPartsOptions()),
    ...extra,
  });
}
