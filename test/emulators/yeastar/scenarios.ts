import { CallRun, type MemberStatus } from './call-run.js';
import { inboundControlOf } from './inbound-control.js';
import { DEFAULT_DID, DEFAULT_EXTERNAL, DEFAULT_TRUNK, IVR_NUMBER, QUEUE_NUMBER, RING_GROUP_NUMBER } from './state.js';
import type { ScenarioName, ScenarioOptions } from './types.js';

/**
 * Scripted calls, each the event sequence a P-Series PBX sends for that kind of call (reference §3.4, §3.5, §7, §8).
 * Times are PBX seconds; CallRun.pause scales them by `speed`.
 */

export interface Resolved {
  from: string;
  to: string[];
  did: string;
  trunk: string;
  talk: number;
  ring: number;
  record: boolean;
  hold: boolean;
  holdAt: 'ringing' | 'on-hold' | 'transfer' | undefined;
  answeredBy: string;
  reason: string | undefined;
}

export class ScenarioError extends Error {}

const INBOUND: ReadonlySet<ScenarioName> = new Set(['inbound-answered', 'inbound-missed', 'inbound-busy', 'inbound-voicemail', 'ring-group', 'queue-ivr', 'blind-transfer']);

export function resolveOptions(name: ScenarioName, opts: ScenarioOptions, isExtension: (n: string) => boolean): Resolved {
  const inbound = INBOUND.has(name);
  const defaultTo: Record<ScenarioName, string[]> = {
    'inbound-answered': ['1001'], 'inbound-missed': ['1001'], 'inbound-busy': ['1001'], 'inbound-voicemail': ['1001'],
    'ring-group': ['1001', '1002', '1003'], 'queue-ivr': ['1001', '1002'], 'blind-transfer': ['1001', '1002'],
    'outbound-answered': [DEFAULT_EXTERNAL], 'outbound-failed': [DEFAULT_EXTERNAL], internal: ['1002'],
  };
  const to = opts.to === undefined ? defaultTo[name] : Array.isArray(opts.to) ? opts.to : [opts.to];
  const from = opts.from ?? (inbound ? DEFAULT_EXTERNAL : '1001');
  if (to.length === 0) throw new ScenarioError('`to` is empty');
  if (inbound || name === 'internal') {
    for (const n of to) if (!isExtension(n)) throw new ScenarioError(`${n} is not an extension of this PBX`);
  }
  if (!inbound && !isExtension(from)) throw new ScenarioError(`${from} is not an extension of this PBX`);
  if (name === 'internal' && to.length !== 1) throw new ScenarioError('internal takes one callee');
  if (name === 'blind-transfer' && to.length !== 2) throw new ScenarioError('blind-transfer takes [answering extension, transfer target]');
  const last = to[to.length - 1] ?? '';
  const answeredBy = opts.answeredBy ?? last;
  if ((name === 'ring-group' || name === 'queue-ivr') && !to.includes(answeredBy)) throw new ScenarioError(`answeredBy ${answeredBy} is not in \`to\``);
  return {
    from, to, answeredBy,
    did: opts.did ?? DEFAULT_DID,
    trunk: opts.trunk ?? DEFAULT_TRUNK,
    talk: opts.talkSeconds ?? 30,
    ring: opts.ringSeconds ?? 4,
    record: opts.record ?? true,
    hold: opts.hold ?? false,
    holdAt: opts.holdAt,
    reason: opts.reason,
  };
}

type Script = (run: CallRun, o: Resolved) => Promise<void>;

/**
 * Caller rings in from the trunk: 30011 with the trunk member alerting (captures #2, #4). Only a trunk with Control
 * Inbound Call on (inbound-control.ts) sends the 30016 invitation first — the event's prerequisite
 * (https://help.yeastar.com/en/p-series/developer-guide/event-inbound-call-invitation.html) — and holds the call for the
 * application's decision or the 10 s window; a redirect makes `routeTo` the extension that rings instead of the inbound
 * route's; a refused call is torn down as a caller hang-up (the scripts' hang-up path).
 */
async function arriveInbound(run: CallRun, o: Resolved): Promise<{ inbound: ReturnType<CallRun['addTrunk']>; routeTo: string | undefined }> {
  const inbound = run.addTrunk('inbound', o.from, o.did, o.trunk, 'ALERT');
  const control = inboundControlOf(run.state);
  const controlled = control.controlled.has(o.trunk);
  if (controlled) run.emit(30016);
  const decision = controlled ? await control.hold(run.callId, inbound.channel_id) : undefined;
  if (decision?.kind === 'refuse') run.requestHangup();
  run.snapshot();
  return { inbound, routeTo: decision?.kind === 'redirect' ? decision.to : undefined };
}

/** Talk, optional hold point, then the outside party hangs up first and the extension's BYE follows. */
async function talkAndHangUp(run: CallRun, o: Resolved, remote: { member_status: MemberStatus }, ext: { member_status: MemberStatus }, talk: number): Promise<void> {
  await run.pause(talk);
  if (o.holdAt === 'on-hold' && !run.hungUp) {
    remote.member_status = 'HOLD';
    run.snapshot();
    await run.holdUntilContinued();
  }
  if (o.hold) await run.holdUntilContinued();
  remote.member_status = 'BYE';
  run.snapshot();
  ext.member_status = 'BYE';
  run.snapshot();
}

const inboundAnswered: Script = async (run, o) => {
  const { inbound, routeTo } = await arriveInbound(run, o);
  const agent = routeTo ?? o.to[0] ?? '';
  const ext = run.addExtension(agent, 'RING');
  run.snapshot();
  run.extensionStatus(agent, 'Ringing');
  if (o.holdAt === 'ringing') await run.holdUntilContinued();
  await run.pause(o.ring);
  if (run.hungUp) {
    // call/hangup while ringing: the caller's leg is torn down, as in a missed call.
    inbound.member_status = 'BYE';
    run.fail('487 Request Terminated');
    run.extensionStatus(agent, 'Idle');
    await run.leg({ from: o.from, to: agent, disposition: 'NO ANSWER', callType: 'Inbound', ringSeconds: o.ring, talkSeconds: 0, srcTrunk: o.trunk, did: o.did });
    return;
  }
  ext.member_status = 'ANSWER';
  inbound.member_status = 'ANSWERED';
  run.snapshot();
  run.extensionStatus(agent, 'Busy');
  await talkAndHangUp(run, o, inbound, ext, o.talk);
  run.extensionStatus(agent, 'Idle');
  await run.leg({ from: o.from, to: agent, disposition: 'ANSWERED', callType: 'Inbound', ringSeconds: o.ring, talkSeconds: o.talk, srcTrunk: o.trunk, did: o.did, record: o.record });
};

/** Caller gives up while the extension rings: 30015 "487 Request Terminated" then 30012 NO ANSWER (capture #5). */
const inboundMissed: Script = async (run, o) => {
  const { inbound, routeTo } = await arriveInbound(run, o);
  const agent = routeTo ?? o.to[0] ?? '';
  run.addExtension(agent, 'RING');
  run.snapshot();
  run.extensionStatus(agent, 'Ringing');
  await run.pause(o.ring);
  if (o.hold) await run.holdUntilContinued();
  inbound.member_status = 'BYE';
  run.fail(o.reason ?? '487 Request Terminated');
  run.extensionStatus(agent, 'Idle');
  await run.leg({ from: o.from, to: agent, disposition: 'NO ANSWER', callType: 'Inbound', ringSeconds: o.ring, talkSeconds: 0, srcTrunk: o.trunk, did: o.did });
};

/**
 * Nobody answers and the caller leaves a message in the extension's voicemail: the extension rings, the caller is put
 * through to the mailbox (no agent ANSWER in 30011), then one 30012 with status VOICEMAIL whose `recording` names the
 * message file (reference §3.5 lists VOICEMAIL among the statuses; that the message file is the leg's `recording` /
 * `record_file`, downloadable with recording/download like a recording, is our reading — UNCONFIRMED).
 */
const inboundVoicemail: Script = async (run, o) => {
  const { inbound, routeTo } = await arriveInbound(run, o);
  const agent = routeTo ?? o.to[0] ?? '';
  const ext = run.addExtension(agent, 'RING');
  run.snapshot();
  run.extensionStatus(agent, 'Ringing');
  await run.pause(o.ring);
  ext.member_status = 'BYE';
  run.snapshot();
  run.extensionStatus(agent, 'Idle');
  await run.pause(o.talk);
  inbound.member_status = 'BYE';
  run.snapshot();
  await run.leg({ from: o.from, to: agent, disposition: 'VOICEMAIL', callType: 'Inbound', ringSeconds: o.ring, talkSeconds: o.talk, srcTrunk: o.trunk, did: o.did, record: o.record });
};

/** The extension is busy: the PBX reports the failure (30015 reasons list "User Busy", "486 Busy here") and a BUSY CDR. */
const inboundBusy: Script = async (run, o) => {
  const { inbound, routeTo } = await arriveInbound(run, o);
  const agent = routeTo ?? o.to[0] ?? '';
  await run.pause(1);
  if (o.hold) await run.holdUntilContinued();
  const ext = run.addExtension(agent, 'BYE');
  inbound.member_status = 'BYE';
  run.fail(o.reason ?? '486 Busy Here', [{ extension: { number: ext.number, channel_id: ext.channel_id, member_status: 'BYE', call_path: '' } }, ...run.wireMembers().filter((m) => !('extension' in m))]);
  await run.leg({ from: o.from, to: agent, disposition: 'BUSY', callType: 'Inbound', ringSeconds: 0, talkSeconds: 0, srcTrunk: o.trunk, did: o.did });
};

/**
 * Ring group: every member rings at once with call_path = the group number; one answers, the others stop.
 * CDR: a NO ANSWER leg per member that rang unanswered, then the ANSWERED leg (emulator choice: the per-leg shape the adapter must fold).
 */
const ringGroup: Script = async (run, o) => {
  const { inbound } = await arriveInbound(run, o);
  inbound.call_path = RING_GROUP_NUMBER;
  const rung = o.to.map((n) => run.addExtension(n, 'RING', RING_GROUP_NUMBER));
  run.snapshot();
  for (const n of o.to) run.extensionStatus(n, 'Ringing');
  await run.pause(o.ring);
  let winner = rung[0];
  for (const m of rung) {
    if (m.number === o.answeredBy) {
      m.member_status = 'ANSWER';
      winner = m;
    } else {
      m.member_status = 'BYE';
    }
  }
  inbound.member_status = 'ANSWERED';
  run.snapshot();
  for (const n of o.to) run.extensionStatus(n, n === o.answeredBy ? 'Busy' : 'Idle');
  if (!winner) return;
  await talkAndHangUp(run, o, inbound, winner, o.talk);
  run.extensionStatus(o.answeredBy, 'Idle');
  for (const n of o.to) {
    if (n === o.answeredBy) continue;
    await run.leg({ from: o.from, to: n, disposition: 'NO ANSWER', callType: 'Inbound', ringSeconds: o.ring, talkSeconds: 0, srcTrunk: o.trunk, did: o.did });
  }
  await run.leg({ from: o.from, to: o.answeredBy, disposition: 'ANSWERED', callType: 'Inbound', ringSeconds: o.ring, talkSeconds: o.talk, srcTrunk: o.trunk, did: o.did, record: o.record });
};

/**
 * IVR → queue → agent. The IVR answers the trunk (its CDR leg is ANSWERED with no ring_duration and the talk time repeated
 * down the chain, per the live audit in reference §4.6); queue agents ring in order, the ones before `answeredBy` time out
 * (NO ANSWER legs), `answeredBy` answers and is recorded.
 */
const IVR_SECONDS = 8;
const queueIvr: Script = async (run, o) => {
  const { inbound } = await arriveInbound(run, o);
  await run.pause(1);
  inbound.member_status = 'ANSWERED';
  inbound.call_path = IVR_NUMBER;
  run.snapshot();
  await run.pause(IVR_SECONDS);
  inbound.call_path = QUEUE_NUMBER;
  const agents = o.to.slice(0, o.to.indexOf(o.answeredBy) + 1);
  const missed: string[] = [];
  let answered: ReturnType<CallRun['addExtension']> | undefined;
  let queueRing = 0;
  for (const agent of agents) {
    const m = run.addExtension(agent, 'RING', QUEUE_NUMBER);
    run.snapshot();
    run.extensionStatus(agent, 'Ringing');
    await run.pause(o.ring);
    queueRing += o.ring;
    if (agent === o.answeredBy) {
      m.member_status = 'ANSWER';
      run.snapshot();
      run.extensionStatus(agent, 'Busy');
      answered = m;
    } else {
      m.member_status = 'BYE';
      run.snapshot();
      run.extensionStatus(agent, 'Idle');
      missed.push(agent);
    }
  }
  if (!answered) return;
  await talkAndHangUp(run, o, inbound, answered, o.talk);
  run.extensionStatus(o.answeredBy, 'Idle');
  const total = 1 + IVR_SECONDS + queueRing + o.talk;
  await run.leg({ from: o.from, to: IVR_NUMBER, disposition: 'ANSWERED', callType: 'Inbound', talkSeconds: total - 1, srcTrunk: o.trunk, did: o.did });
  let offset = 1 + IVR_SECONDS;
  for (const agent of missed) {
    await run.leg({ from: o.from, to: agent, disposition: 'NO ANSWER', callType: 'Inbound', ringSeconds: o.ring, talkSeconds: 0, srcTrunk: o.trunk, did: o.did, offsetSeconds: offset });
    offset += o.ring;
  }
  await run.leg({ from: o.from, to: o.answeredBy, disposition: 'ANSWERED', callType: 'Inbound', ringSeconds: o.ring, talkSeconds: o.talk, srcTrunk: o.trunk, did: o.did, record: o.record, offsetSeconds: offset });
};

/** The first extension answers, talks a third of the time, then blind-transfers (30013) to the second, which answers. */
const blindTransfer: Script = async (run, o) => {
  const [first = '', second = ''] = o.to;
  const { inbound } = await arriveInbound(run, o);
  const a = run.addExtension(first, 'RING');
  run.snapshot();
  run.extensionStatus(first, 'Ringing');
  await run.pause(o.ring);
  a.member_status = 'ANSWER';
  inbound.member_status = 'ANSWERED';
  run.snapshot();
  run.extensionStatus(first, 'Busy');
  const before = Math.max(1, Math.round(o.talk / 3));
  const after = Math.max(1, o.talk - before);
  await run.pause(before);
  // 30013 is sent when an extension user transfers (https://help.yeastar.com/en/p-series/developer-guide/event-call-transfer.html):
  // the members at that moment, the transferor included.
  run.emit(30013);
  a.member_status = 'BYE';
  run.snapshot();
  run.extensionStatus(first, 'Idle');
  const b = run.addExtension(second, 'RING');
  run.snapshot();
  run.extensionStatus(second, 'Ringing');
  if (o.holdAt === 'transfer') await run.holdUntilContinued();
  await run.pause(o.ring);
  if (run.hungUp) {
    // call/hangup while the transfer target rings: the caller's leg goes, the target never answers.
    inbound.member_status = 'BYE';
    b.member_status = 'BYE';
    run.snapshot();
    run.extensionStatus(second, 'Idle');
    await run.leg({ from: o.from, to: first, disposition: 'ANSWERED', callType: 'Inbound', ringSeconds: o.ring, talkSeconds: before, srcTrunk: o.trunk, did: o.did, record: o.record });
    await run.leg({ from: o.from, to: second, disposition: 'NO ANSWER', callType: 'Inbound', ringSeconds: o.ring, talkSeconds: 0, srcTrunk: o.trunk, did: o.did, offsetSeconds: o.ring + before });
    return;
  }
  b.member_status = 'ANSWER';
  run.snapshot();
  run.extensionStatus(second, 'Busy');
  await talkAndHangUp(run, o, inbound, b, after);
  run.extensionStatus(second, 'Idle');
  await run.leg({ from: o.from, to: first, disposition: 'ANSWERED', callType: 'Inbound', ringSeconds: o.ring, talkSeconds: before, srcTrunk: o.trunk, did: o.did, record: o.record });
  await run.leg({ from: o.from, to: second, disposition: 'ANSWERED', callType: 'Inbound', ringSeconds: o.ring, talkSeconds: after, srcTrunk: o.trunk, did: o.did, record: o.record, offsetSeconds: o.ring + before });
};

/** Extension dials out: it is the ALERT member, the trunk leg is an `outbound` member that rings then answers. */
const outboundAnswered: Script = async (run, o) => {
  const callee = o.to[0] ?? '';
  const ext = run.addExtension(o.from, 'ALERT');
  run.snapshot();
  run.extensionStatus(o.from, 'Busy');
  const out = run.addTrunk('outbound', o.from, callee, o.trunk, 'RING');
  run.snapshot();
  await run.pause(o.ring);
  if (run.hungUp) {
    out.member_status = 'BYE';
    ext.member_status = 'BYE';
    run.snapshot();
    run.extensionStatus(o.from, 'Idle');
    await run.leg({ from: o.from, to: callee, disposition: 'NO ANSWER', callType: 'Outbound', ringSeconds: o.ring, talkSeconds: 0, dstTrunk: o.trunk });
    return;
  }
  out.member_status = 'ANSWER';
  ext.member_status = 'ANSWERED';
  run.snapshot();
  await talkAndHangUp(run, o, out, ext, o.talk);
  run.extensionStatus(o.from, 'Idle');
  await run.leg({ from: o.from, to: callee, disposition: 'ANSWERED', callType: 'Outbound', ringSeconds: o.ring, talkSeconds: o.talk, dstTrunk: o.trunk, record: o.record });
};

/** The trunk refuses the call: 30015 with the reason, then a FAILED 30012 with zero durations and empty trunks (capture #7). */
const outboundFailed: Script = async (run, o) => {
  const callee = o.to[0] ?? '';
  const ext = run.addExtension(o.from, 'ALERT');
  run.snapshot();
  run.extensionStatus(o.from, 'Busy');
  await run.pause(1);
  if (o.hold) await run.holdUntilContinued();
  ext.member_status = 'BYE';
  run.fail(o.reason ?? 'Line Unreachable');
  run.extensionStatus(o.from, 'Idle');
  await run.leg({ from: o.from, to: callee, disposition: 'FAILED', callType: 'Outbound', ringSeconds: 0, talkSeconds: 0 });
};

const internal: Script = async (run, o) => {
  const callee = o.to[0] ?? '';
  const a = run.addExtension(o.from, 'ALERT');
  const b = run.addExtension(callee, 'RING');
  run.snapshot();
  run.extensionStatus(callee, 'Ringing');
  await run.pause(o.ring);
  if (run.hungUp) {
    a.member_status = 'BYE';
    b.member_status = 'BYE';
    run.snapshot();
    run.extensionStatus(callee, 'Idle');
    await run.leg({ from: o.from, to: callee, disposition: 'NO ANSWER', callType: 'Internal', ringSeconds: o.ring, talkSeconds: 0 });
    return;
  }
  a.member_status = 'ANSWERED';
  b.member_status = 'ANSWER';
  run.snapshot();
  run.extensionStatus(o.from, 'Busy');
  run.extensionStatus(callee, 'Busy');
  await talkAndHangUp(run, o, b, a, o.talk);
  run.extensionStatus(o.from, 'Idle');
  run.extensionStatus(callee, 'Idle');
  await run.leg({ from: o.from, to: callee, disposition: 'ANSWERED', callType: 'Internal', ringSeconds: o.ring, talkSeconds: o.talk, record: o.record });
};

export const SCRIPTS: Record<ScenarioName, Script> = {
  'inbound-answered': inboundAnswered,
  'inbound-missed': inboundMissed,
  'inbound-busy': inboundBusy,
  'inbound-voicemail': inboundVoicemail,
  'ring-group': ringGroup,
  'queue-ivr': queueIvr,
  'blind-transfer': blindTransfer,
  'outbound-answered': outboundAnswered,
  'outbound-failed': outboundFailed,
  internal,
};
