import type { CallRecord } from '../../server/store/records.js';
import type { CallsRepository } from '../../server/store/types.js';

/**
 * The workload of the history rows, one for both stores (bench/phases/history.ts for the file store,
 * bench/phases/postgres.ts for PostgreSQL), so their figures compare: the same stored calls, the same puts.
 */
export const HISTORY_PORTAL = 'bench';

/** The `i`th stored call: a logged-shaped inbound call with a CRM contact and a recording, distinct per `i`. */
export function storedCall(i: number, phase: CallRecord['phase']): CallRecord {
  const at = 1_700_000_000_000 + i * 1000;
  return {
    portal: HISTORY_PORTAL, pbxCallId: `pbx-${i}`, direction: 'inbound', external: `+1555${String(i).padStart(7, '0')}`,
    extensions: ['1001', '1002'], shownTo: [7], answeredBy: '1001', userId: 7, startedAt: at, answeredAt: at + 5000,
    endedAt: at + 65_000, talkSeconds: 60, result: 'answered', b24CallId: `externalCall.${i}`, origin: 'pbx',
    crm: { entityType: 'CONTACT', entityId: i % 5000 }, recordingState: 'attached', phase, updatedAt: at + 70_000,
  };
}

/** 2,000 call events on 100 calls beyond the `stored` ones, each put awaited: how long each took, ms. */
export async function timeCallEventPuts(calls: Pick<CallsRepository, 'put'>, stored: number): Promise<number[]> {
  const puts: number[] = [];
  // Each event of a live call rewrites its record: ringing, answered, ended, logged …
  for (let i = 0; i < 2000; i += 1) {
    const started = performance.now();
    await calls.put({ ...storedCall(stored + (i % 100), i % 4 === 3 ? 'logged' : 'live'), updatedAt: i });
    puts.push(performance.now() - started);
  }
  return puts;
}
