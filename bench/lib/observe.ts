import type { Bitrix24Emulator, CallView, RecordedRequest } from '../../test/emulators/bitrix24/harness.js';
import type { YeastarEmulator } from '../../test/emulators/yeastar/harness.js';
import type { ServerProcess } from './server-process.js';

/** What the benchmark reads back from the emulators: both record when they sent or received what. */

const RING_EVENT = 30011;

/** The product registers a PBX call with EXTERNAL_CALL_ID `<pbxCallId>-<startedAt>` (server/calls/outbox-items.ts). */
export const isExternalIdOf = (externalCallId: unknown, pbxCallId: string): boolean =>
  typeof externalCallId === 'string' && externalCallId.startsWith(`${pbxCallId}-`);

/** Epoch ms of the first 30011 (call status: a member ringing) the PBX sent, per call id. */
export async function ringTimes(pbx: YeastarEmulator, callIds: readonly string[]): Promise<Map<string, number>> {
  const wanted = new Set(callIds);
  const out = new Map<string, number>();
  for (const e of await pbx.events({ type: RING_EVENT })) {
    if (!e.callId || !wanted.has(e.callId)) continue;
    const seen = out.get(e.callId);
    if (seen === undefined || e.at < seen) out.set(e.callId, e.at);
  }
  return out;
}

/** Epoch ms the portal received the first successful `telephony.externalCall.register` of each PBX call. */
export function registerTimes(requests: readonly RecordedRequest[], callIds: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  const registers = requests.filter((r) => r.method === 'telephony.externalCall.register' && r.error === null);
  const byExternal = new Map<string, number>();
  for (const r of registers) {
    const ext = r.params.EXTERNAL_CALL_ID;
    if (typeof ext !== 'string') continue;
    const at = Date.parse(r.time);
    const seen = byExternal.get(ext);
    if (seen === undefined || at < seen) byExternal.set(ext, at);
  }
  for (const id of callIds) {
    for (const [ext, at] of byExternal) {
      if (isExternalIdOf(ext, id)) {
        const seen = out.get(id);
        if (seen === undefined || at < seen) out.set(id, at);
      }
    }
  }
  return out;
}

export interface PopLatencies {
  latencies: number[];
  /** Calls whose register never arrived (within the wait). */
  missing: number;
}

export function popLatencies(rings: Map<string, number>, registers: Map<string, number>, callIds: readonly string[]): PopLatencies {
  const latencies: number[] = [];
  let missing = 0;
  for (const id of callIds) {
    const ring = rings.get(id);
    const reg = registers.get(id);
    if (ring === undefined || reg === undefined) missing += 1;
    else latencies.push(reg - ring);
  }
  return { latencies, missing };
}

/** Polls the portal's registered calls until every PBX call of `callIds` has a register (bounded). */
export async function waitRegistered(b24: Bitrix24Emulator, memberId: string, callIds: readonly string[], timeoutMs: number): Promise<boolean> {
  return poll(async () => {
    const calls = await b24.calls(memberId);
    return callIds.every((id) => calls.some((c) => isExternalIdOf(c.externalCallId, id)));
  }, timeoutMs);
}

export interface LogCount {
  /** PBX calls with exactly one successful finish. */
  loggedOnce: number;
  /** PBX calls with more than one successful finish. */
  loggedTwice: number;
  notLogged: number;
}

/** Successful `finish` requests per PBX call (through the CALL_ID the register returned). */
export function countFinishes(calls: readonly CallView[], requests: readonly RecordedRequest[], callIds: readonly string[]): LogCount {
  const finishes = new Map<string, number>();
  for (const r of requests) {
    if (r.method !== 'telephony.externalCall.finish' || r.error !== null) continue;
    const id = r.params.CALL_ID;
    if (typeof id === 'string') finishes.set(id, (finishes.get(id) ?? 0) + 1);
  }
  const count: LogCount = { loggedOnce: 0, loggedTwice: 0, notLogged: 0 };
  for (const pbxId of callIds) {
    const b24Ids = calls.filter((c) => isExternalIdOf(c.externalCallId, pbxId)).map((c) => c.callId);
    const n = b24Ids.reduce((sum, id) => sum + (finishes.get(id) ?? 0), 0);
    if (n === 1) count.loggedOnce += 1;
    else if (n > 1) count.loggedTwice += 1;
    else count.notLogged += 1;
  }
  return count;
}

/** HTTP requests the portal received (a batch is one; its commands are not counted again). */
export const httpRequests = (requests: readonly RecordedRequest[]): RecordedRequest[] => requests.filter((r) => !r.viaBatch);

/**
 * Waits until every call the PBX ended is logged: no call open in the product (`pbxb24_calls_in_flight`, calls not yet
 * logged) and nothing pending in its outbox; resolves the ms it took, or NaN on timeout. The outbox alone is not
 * enough: once it keeps up, it is empty while the last calls' finish waits for their CDR and recording, and the
 * count of logged calls read then came up short.
 */
export async function waitOutboxDrained(server: ServerProcess, timeoutMs: number, since = Date.now()): Promise<number> {
  const ok = await poll(async () => {
    const metrics = await server.metrics();
    return metrics.get('pbxb24_outbox_pending') === 0 && metrics.get('pbxb24_calls_in_flight') === 0;
  }, timeoutMs, 100);
  return ok ? Date.now() - since : Number.NaN;
}

export async function poll(check: () => Promise<boolean>, timeoutMs: number, stepMs = 200): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
