import type { Bitrix24Emulator, CallView } from '../emulators/bitrix24/harness.js';
import { eventually } from '../integration/foundation/server-under-test.js';

/**
 * "Every call logged exactly once with its recording", as Bitrix24 sees it: for each PBX call id, one call on the
 * portal, finished, with one recording; one successful `finish` and one successful `attachRecord` request for it.
 */
export interface CallLogReport {
  missing: string[];
  unfinished: string[];
  withoutRecording: string[];
  duplicated: string[];
  extraFinishes: string[];
  extraRecords: string[];
}

export interface ReportOptions {
  /**
   * 'atLeastOne' tolerates a recording attached twice (never lost). Only for the one known bug a test names:
   * after a restart, a recording retry and another attach of the same call both go out (faults/sigkill).
   */
  recordings?: 'exactlyOne' | 'atLeastOne';
}

export async function callLogReport(b24: Bitrix24Emulator, memberId: string, pbxCallIds: string[], opts: ReportOptions = {}): Promise<CallLogReport> {
  const lenient = opts.recordings === 'atLeastOne';
  const calls = await b24.calls(memberId);
  const finishes = await b24.requests({ memberId, method: 'telephony.externalCall.finish' });
  const attaches = await b24.requests({ memberId, method: 'telephony.externalCall.attachRecord' });
  const okCount = (requests: typeof finishes, b24CallId: string) =>
    requests.filter((r) => r.httpStatus === 200 && r.error === null && r.params.CALL_ID === b24CallId).length;
  const report: CallLogReport = { missing: [], unfinished: [], withoutRecording: [], duplicated: [], extraFinishes: [], extraRecords: [] };
  for (const id of pbxCallIds) {
    const mine: CallView[] = calls.filter((c) => (c.externalCallId ?? '').includes(id));
    const call = mine[0];
    if (!call) {
      report.missing.push(id);
      continue;
    }
    if (mine.length > 1) report.duplicated.push(id);
    if (!call.finished) report.unfinished.push(id);
    if (call.records.length === 0) report.withoutRecording.push(id);
    if (okCount(finishes, call.callId) > 1) report.extraFinishes.push(id);
    if (!lenient && (call.records.length > 1 || okCount(attaches, call.callId) > 1)) report.extraRecords.push(id);
  }
  return report;
}

const clean = (r: CallLogReport) => Object.values(r).every((list: string[]) => list.length === 0);

/** Waits until every call is logged (finished with its recording), then lets duplicates show up for `quietMs`. */
export async function expectEachLoggedOnce(
  b24: Bitrix24Emulator, memberId: string, pbxCallIds: string[], timeoutMs = 30_000, quietMs = 1_000, opts: ReportOptions = {},
): Promise<CallLogReport> {
  let last: CallLogReport | undefined;
  try {
    await eventually(async () => clean(last = await callLogReport(b24, memberId, pbxCallIds, opts)), timeoutMs, 200);
  } catch {
    throw new Error(`calls not logged exactly once in ${timeoutMs} ms: ${JSON.stringify(last)}`);
  }
  await new Promise((r) => setTimeout(r, quietMs));
  return callLogReport(b24, memberId, pbxCallIds, opts);
}

export const EMPTY_REPORT: CallLogReport = { missing: [], unfinished: [], withoutRecording: [], duplicated: [], extraFinishes: [], extraRecords: [] };
