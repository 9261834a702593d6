import { callLog, type Logger } from '../log.js';
import type { CallEvent } from './adapter.js';

/**
 * Hands one link's call events to the calls service: each at once, in the order the link heard them, and each
 * call's CDR once (live or recovered by gap-recovery.ts, whichever comes first).
 *
 * It orders nothing per call. The calls service owns a call's order (calls/service.ts): it is the one part that
 * sees every input of a call — PBX events, its own timers, Bitrix24's answers, the record of a call we dialed —
 * so a second per-call chain here only made the same events wait twice. Nor does one call wait for another:
 * a slow CRM lookup of one call must not hold the next call's screen pop (bench/, issue 7).
 */
export interface CallDelivery {
  deliver(event: CallEvent): void;
  /** True once this call's CDR was handed on (and not taken back after a failure). */
  delivered(pbxCallId: string): boolean;
  /** Resolves once every event handed on so far has been handled (or failed). */
  settled(): Promise<void>;
}

export interface CallDeliveryOptions {
  portal: string;
  log: Logger;
  onCallEvent: (event: CallEvent) => void | Promise<void>;
  /** A CDR whose handling failed: it is no longer counted as delivered, so a recovery pass reads it again. */
  onCdrFailed: (event: CallEvent) => void;
}

/** CDR call ids remembered per link for the once-per-call rule; the oldest is forgotten beyond this. */
const DELIVERED_MEMORY = 20_000;

export function createCallDelivery(opts: CallDeliveryOptions): CallDelivery {
  const delivered = new Set<string>();
  const inFlight = new Set<Promise<void>>();

  /** Calls the handler at once (an async function runs to its first await), so handlers start in arrival order. */
  async function handOn(event: CallEvent): Promise<void> {
    try {
      await opts.onCallEvent(event);
    } catch (err) {
      callLog(opts.log, { portal: opts.portal, pbxCallId: event.pbxCallId }).error({ err, kind: event.kind }, 'call event handler failed');
      if (event.kind === 'cdr') {
        delivered.delete(event.pbxCallId);
        opts.onCdrFailed(event);
      }
    }
  }

  return {
    deliver(event) {
      if (event.kind === 'cdr') {
        if (delivered.has(event.pbxCallId)) return;
        delivered.add(event.pbxCallId);
        if (delivered.size > DELIVERED_MEMORY) {
          const oldest = delivered.values().next();
          if (!oldest.done) delivered.delete(oldest.value);
        }
      }
      const handling = handOn(event);
      inFlight.add(handling);
      void handling.then(() => inFlight.delete(handling));
    },
    delivered: (pbxCallId) => delivered.has(pbxCallId),
    async settled() {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
  };
}
