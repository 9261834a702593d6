import type { Logger } from '../log.js';
import { PbxError, type CallEvent, type PbxAdapter } from './adapter.js';
import type { CallDelivery } from './call-delivery.js';
import type { LinkStateFile } from './link-state.js';

/**
 * Gap recovery of one portal's PBX link: no call is lost to an outage, a restart or a failed write.
 *
 * The coverage mark (durable, DATA_DIR/pbx-links.json, link-state.ts) is the time up to which the link heard
 * everything. Whenever the link (re)connects — and at start — the calls that ended since then (minus a margin for
 * clock skew) are read back with `searchCdr` and delivered like live `cdr` events. The mark only moves forward
 * after such a recovery succeeded, so an outage that outlives the process is still recovered after the restart.
 *
 * A call that ended moments ago may not have all its legs in the call history yet (IVR leg written, agent leg
 * not): folding it now would log an answered call as missed, and the complete version would then be dropped as
 * a duplicate. So a pass leaves calls that ended within the last `tailMs` alone, keeps the mark that far behind,
 * and a follow-up pass picks them up once settled.
 * In webhook mode the PBX gives no sign of lost pushes, so the history is swept periodically instead
 * (`sweepEvery`), and the mark only moves with successful sweeps.
 */
export interface GapRecovery {
  /** Reads back what ended since the mark and delivers what was not heard; retried later on failure. */
  recover(): Promise<void>;
  /** After a (re)connect: recovers unless a pass already caught up or is running. */
  catchUp(): void;
  /** The link went down: the mark stays until the next successful pass. */
  linkDown(): void;
  /** Moves the mark to `now - tailMs` when the link is caught up and connected (websocket links, on a tick). */
  coverUpTo(now: number): void;
  /**
   * A call's CDR could not be handled (the store refused the write: disk full). It is not logged yet, so the mark
   * is held before it and a pass is retried: the call is read again from the PBX's history once the cause is
   * gone. Without this the call was lost (faults/store-faults.int.spec.ts).
   */
  holdForRetry(event: CallEvent): void;
  /** Webhook mode: a pass every `ms` while connected. */
  sweepEvery(ms: number): void;
  /** Stops every timer; a pass in progress delivers nothing more. */
  close(): void;
}

export interface GapRecoveryOptions {
  memberId: string;
  adapter: Pick<PbxAdapter, 'searchCdr' | 'status'>;
  delivery: CallDelivery;
  state: LinkStateFile;
  log: Logger;
  /** A pass looks back this much before the mark (PBX clock skew, in-flight legs). */
  marginMs: number;
  /** Calls that ended this recently are left to a follow-up pass. */
  tailMs: number;
  /** Wait before retrying a pass that failed while the link is up. */
  retryMs: number;
  /** When the newest call stored for the portal started (the look-back when the marks were lost). */
  newestCallAt: () => number | undefined;
  /** False once this instance no longer owns the portal (server/cluster/): a pass then reads and delivers nothing. */
  owns?: () => boolean;
}

export function createGapRecovery(opts: GapRecoveryOptions): GapRecovery {
  const { memberId, adapter, delivery, state, log, marginMs, tailMs, retryMs } = opts;
  /** True once the pass after the latest (re)connect succeeded; gates the coverage mark. */
  let caughtUp = false;
  let recovering = false;
  let recoverAgain = false;
  let closed = false;
  /** When a pass first found a call it left for later (call id → our clock). */
  const firstSeen = new Map<string, number>();
  /** The mark must stay before this: a call's CDR ending here failed to be handled and waits for a retry. */
  let heldBefore: number | undefined;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let followUpTimer: ReturnType<typeof setTimeout> | undefined;
  let sweepTimer: ReturnType<typeof setInterval> | undefined;

  /**
   * The coverage marks were lost (pbx-links.json and its .bak damaged): instead of taking every portal for new
   * (no recovery at all), look back to the newest call stored for the portal, at most 24 hours: calls that ended
   * while the server was down are still logged, and the calls service skips those it already knows.
   */
  function lostMarkFallback(): number | undefined {
    if (!state.marksLost()) return undefined;
    const newest = opts.newestCallAt();
    if (newest === undefined) return undefined;
    return Math.max(newest, Date.now() - 24 * 60 * 60_000);
  }

  const owned = opts.owns ?? (() => true);
  const connected = (): boolean => !closed && owned() && adapter.status().state === 'connected';

  /** Moves the coverage mark, never past a call still waiting to be handled. */
  function cover(at: number): void {
    state.setCoveredUntil(memberId, Math.min(at, heldBefore ?? at));
  }

  function retryLater(): void {
    if (closed || retryTimer !== undefined) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      if (connected()) void recover();
    }, retryMs);
    retryTimer.unref?.();
  }

  function scheduleFollowUp(): void {
    if (followUpTimer !== undefined || closed) return;
    followUpTimer = setTimeout(() => {
      followUpTimer = undefined;
      if (!closed) void recover();
    }, tailMs + Math.min(5_000, Math.max(100, tailMs / 4)));
    followUpTimer.unref?.();
  }

  /** One pass over the history since the mark; false when it stopped because the link closed. */
  async function pass(): Promise<boolean> {
    if (!owned()) return false;
    const covered = state.coveredUntil(memberId) ?? lostMarkFallback();
    const startedAt = Date.now();
    const settledBefore = startedAt - tailMs;
    if (covered === undefined) {
      // First link ever for this portal: history before it is not ours to log. Written at once, not debounced:
      // without this mark on disk a restart takes the portal for new again and never looks back, so calls of a
      // crash in the first second of a link were lost (faults/sigkill.int.spec.ts).
      state.setCoveredUntil(memberId, startedAt);
      await state.flush();
      return true;
    }
    const since = covered - marginMs;
    // Calls held back by a failed delivery are read again now; a new failure holds the mark again.
    heldBefore = undefined;
    const events = await adapter.searchCdr(since);
    if (closed || !owned()) return false;
    let fresh = 0;
    let tooRecent = 0;
    for (const event of events) {
      if (delivery.delivered(event.pbxCallId)) {
        firstSeen.delete(event.pbxCallId);
        continue;
      }
      // Settled when it ended a tail ago, or when we first saw it a tail ago: a PBX clock ahead of ours dates
      // calls in the future, and they must not wait for our clock to catch up (nor forever).
      const seen = firstSeen.get(event.pbxCallId) ?? startedAt;
      if (event.at > settledBefore && seen > settledBefore) {
        firstSeen.set(event.pbxCallId, seen);
        tooRecent += 1;
        continue;
      }
      firstSeen.delete(event.pbxCallId);
      fresh += 1;
      delivery.deliver({ ...event, recovered: true });
    }
    log.info({ portal: memberId, since, found: events.length, delivered: fresh, deferred: tooRecent }, 'PBX call history recovered');
    cover(settledBefore);
    if (tooRecent > 0) scheduleFollowUp();
    return true;
  }

  async function recover(): Promise<void> {
    if (recovering) {
      recoverAgain = true;
      return;
    }
    recovering = true;
    try {
      do {
        recoverAgain = false;
        if (!await pass()) return;
        caughtUp = true;
      } while (recoverAgain && !closed);
    } catch (err) {
      log.warn({ portal: memberId, code: err instanceof PbxError ? err.code : 'UNKNOWN', reason: err instanceof Error ? err.message : String(err) }, 'PBX call history recovery failed; will retry');
      retryLater();
    } finally {
      recovering = false;
    }
  }

  return {
    recover,
    catchUp() {
      if (connected() && !caughtUp && !recovering) void recover();
    },
    linkDown() {
      caughtUp = false;
    },
    coverUpTo(now) {
      if (caughtUp && connected()) cover(now - tailMs);
    },
    holdForRetry(event) {
      const before = Math.min(event.at, Date.now()) - 1;
      heldBefore = Math.min(heldBefore ?? before, before);
      retryLater();
    },
    sweepEvery(ms) {
      if (sweepTimer !== undefined) clearInterval(sweepTimer);
      sweepTimer = setInterval(() => {
        if (connected()) void recover();
      }, ms);
      sweepTimer.unref?.();
    },
    close() {
      closed = true;
      if (retryTimer !== undefined) clearTimeout(retryTimer);
      if (followUpTimer !== undefined) clearTimeout(followUpTimer);
      if (sweepTimer !== undefined) clearInterval(sweepTimer);
    },
  };
}
