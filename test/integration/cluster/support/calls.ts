import type { Bitrix24Emulator } from '../../../emulators/bitrix24/harness.js';
import type { ClusterPortal } from './cluster.js';

/** A PBX call the test started on one portal's PBX. */
export interface TrackedCall {
  portal: ClusterPortal;
  callId: string;
  /** Where it waits until released: while the extension rings, or while talking. */
  heldAt: 'ringing' | 'talking' | 'none';
}

let numbers = 0;

/** An inbound call to the agent's extension 1001, recorded, 3 PBX seconds of talk. */
export async function startCall(portal: ClusterPortal, heldAt: TrackedCall['heldAt']): Promise<TrackedCall> {
  numbers += 1;
  const from = `+1555${String(1_000_000 + numbers).slice(1)}`;
  const hold = heldAt === 'talking' ? { hold: true } : heldAt === 'ringing' ? { holdAt: 'ringing' as const } : {};
  const { callId } = await portal.pbx.scenario('inbound-answered', { from, to: '1001', talkSeconds: 3, record: true, ...hold });
  return { portal, callId, heldAt };
}

/** Whether Bitrix24 shows the call (registered: it rings or talks in the CRM). */
export async function isRegistered(b24: Bitrix24Emulator, call: TrackedCall): Promise<boolean> {
  return (await b24.calls(call.portal.memberId)).some((c) => (c.externalCallId ?? '').includes(call.callId));
}

/** Whether Bitrix24 shows the call finished with a recording. */
export async function isLogged(b24: Bitrix24Emulator, call: TrackedCall): Promise<boolean> {
  const c = (await b24.calls(call.portal.memberId)).find((x) => (x.externalCallId ?? '').includes(call.callId));
  return Boolean(c?.finished && c.records.length > 0);
}

/**
 * What Bitrix24 holds for one PBX call: call cards, successful register and finish requests, recordings. Logged
 * exactly once is `{ cards: 1, registers: 1, finishes: 1, recordings: 1 }`.
 */
export interface CallLedger {
  callId: string;
  portal: string;
  cards: number;
  registers: number;
  finishes: number;
  recordings: number;
}

export async function ledger(b24: Bitrix24Emulator, call: TrackedCall): Promise<CallLedger> {
  const memberId = call.portal.memberId;
  const cards = (await b24.calls(memberId)).filter((c) => (c.externalCallId ?? '').includes(call.callId));
  const b24CallIds = new Set(cards.map((c) => c.callId));
  const requests = (await b24.requests({ memberId })).filter((r) => r.httpStatus === 200 && r.error === null);
  const registers = requests.filter((r) => r.method.toLowerCase() === 'telephony.externalcall.register'
    && String(r.params.EXTERNAL_CALL_ID ?? '').includes(call.callId)).length;
  const finishes = requests.filter((r) => r.method.toLowerCase() === 'telephony.externalcall.finish'
    && b24CallIds.has(String(r.params.CALL_ID ?? ''))).length;
  const recordings = cards.reduce((n, c) => n + c.records.length, 0);
  return { callId: call.callId, portal: memberId, cards: cards.length, registers, finishes, recordings };
}

export function once(call: TrackedCall): CallLedger {
  return { callId: call.callId, portal: call.portal.memberId, cards: 1, registers: 1, finishes: 1, recordings: 1 };
}
