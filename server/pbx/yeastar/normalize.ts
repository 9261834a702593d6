import type { CallDirection, CallEvent, CallEventKind, CallExtension, ExtensionState } from '../adapter.js';
import { foldCdrLegs, type CdrLeg } from './cdr-fold.js';
import type { CallMember, CallStateMsg, CdrMsg, EventFrame } from './frames.js';

/**
 * Folds Yeastar's call events into our CallEvents, one logical call per `call_id`.
 *
 * - 30011 is a *snapshot* of the members in the call now; members vanish after BYE (reference §3.4).
 * - 30016 is the inbound invitation (trunk with Control Inbound Call): the earliest sight of a caller.
 * - 30013 marks a transfer, 30015 a failure with a reason.
 * - 30012 comes once per leg; the legs are gathered and, after a quiet settle window (the PBX sends no
 *   "last leg" marker), folded into ONE `cdr` event credited to the agent leg.
 *
 * Direction: an `inbound` member makes the call inbound, an `outbound` one outbound, two or more extensions
 * and no trunk make it internal. A lone extension (click-to-call rings the caller's extension first) is
 * undecided: nothing is emitted until the trunk leg or a second extension shows what the call is.
 */

export interface NormalizerOptions {
  portal: string;
  /** Quiet time after the last 30012 leg before the call's legs are folded. */
  settleMs: number;
  emit: (event: CallEvent) => void;
  /** Whether a number is an extension of this PBX (extension/list); live extension members are added to it. */
  isExtension?: (n: string) => boolean;
  now?: () => number;
  /** Live state of a call nobody hears from for this long is dropped (a lost BYE must not leak memory). */
  staleMs?: number;
}

export interface CallNormalizer {
  accept(frame: EventFrame): void;
  /** Emits every pending CDR now (used on shutdown). */
  flush(): void;
  /** Calls with live state or pending legs. */
  openCalls(): number;
  close(): void;
}

interface LiveCall {
  callId: string;
  firstSeenAt: number;
  lastTouchedAt: number;
  direction?: CallDirection;
  external: string;
  did?: string;
  trunk?: string;
  via?: string;
  extensions: CallExtension[];
  seenExtensions: Set<string>;
  ringingAnnounced: Set<string>;
  announced: boolean;
  answeredBy?: string;
  ended: boolean;
  failed: boolean;
  legs: CdrLeg[];
  firstLegAt: number;
  settleTimer?: ReturnType<typeof setTimeout>;
}

const STATE_OF: Record<string, ExtensionState> = {
  RING: 'ringing',
  ALERT: 'calling',
  EARLYMEDIA: 'calling',
  ANSWER: 'answered',
  ANSWERED: 'answered',
  HOLD: 'hold',
  BYE: 'hangup',
};

function memberStatus(raw: string | undefined): string {
  return (raw ?? '').trim().toUpperCase();
}

interface Snapshot {
  extensions: { number: string; status: string; path: string }[];
  inbound?: { from: string; to: string; trunk: string; status: string; path: string };
  outbound?: { from: string; to: string; trunk: string; status: string; path: string };
}

function readSnapshot(members: (CallMember | null)[] | null | undefined): Snapshot {
  const snap: Snapshot = { extensions: [] };
  for (const m of members ?? []) {
    if (!m) continue;
    if (m.extension?.number) {
      snap.extensions.push({ number: m.extension.number, status: memberStatus(m.extension.member_status), path: m.extension.call_path ?? '' });
    }
    for (const side of ['inbound', 'outbound'] as const) {
      const p = m[side];
      if (p && (p.from !== undefined || p.to !== undefined)) {
        snap[side] = { from: p.from ?? '', to: p.to ?? '', trunk: p.trunk_name ?? '', status: memberStatus(p.member_status), path: p.call_path ?? '' };
      }
    }
  }
  return snap;
}

/**
 * Live legs carry no usable instant: 30012 `time_start` is PBX-local wall time without a zone (reference §8).
 * They are therefore kept in arrival order (no startedAt); the call's start is estimated in `settle`.
 */
function legOf(msg: CdrMsg): CdrLeg {
  return {
    callId: msg.call_id,
    from: msg.call_from ?? '',
    to: msg.call_to ?? '',
    type: msg.type ?? '',
    status: msg.status ?? '',
    callSeconds: msg.call_duration ?? 0,
    talkSeconds: msg.talk_duration ?? 0,
    srcTrunk: msg.src_trunk_name ?? '',
    dstTrunk: msg.dst_trunk_name ?? '',
    did: msg.did_number ?? '',
    recording: msg.recording ?? '',
  };
}

export function createCallNormalizer(opts: NormalizerOptions): CallNormalizer {
  const now = opts.now ?? Date.now;
  const staleMs = opts.staleMs ?? 4 * 60 * 60 * 1000;
  const calls = new Map<string, LiveCall>();
  /** Calls whose CDR was emitted: late legs are dropped instead of reopening the call. */
  const finished = new Map<string, number>();
  let closed = false;

  const knownExtension = (call: LiveCall) => (n: string) => call.seenExtensions.has(n) || (opts.isExtension?.(n) ?? false);

  function base(call: LiveCall, kind: CallEventKind): CallEvent {
    return {
      portal: opts.portal,
      pbxCallId: call.callId,
      at: now(),
      kind,
      direction: call.direction ?? 'internal',
      external: call.direction === 'internal' ? '' : call.external,
      extensions: call.extensions.map((e) => ({ ...e })),
      ...(call.did ? { did: call.did } : {}),
      ...(call.trunk ? { trunk: call.trunk } : {}),
      ...(call.via ? { via: call.via } : {}),
    };
  }

  function send(event: CallEvent): void {
    if (!closed) opts.emit(event);
  }

  function sweep(at: number): void {
    for (const [id, call] of calls) {
      if (at - call.lastTouchedAt > staleMs && call.settleTimer === undefined) calls.delete(id);
    }
    for (const [id, doneAt] of finished) {
      if (at - doneAt > staleMs) finished.delete(id);
    }
  }

  function callFor(callId: string): LiveCall {
    const existing = calls.get(callId);
    const at = now();
    if (existing) {
      existing.lastTouchedAt = at;
      return existing;
    }
    if (calls.size % 64 === 0) sweep(at);
    const call: LiveCall = {
      callId, firstSeenAt: at, lastTouchedAt: at, external: '', extensions: [], seenExtensions: new Set(),
      ringingAnnounced: new Set(), announced: false, ended: false, failed: false, legs: [], firstLegAt: at,
    };
    calls.set(callId, call);
    return call;
  }

  function applySnapshot(call: LiveCall, snap: Snapshot): void {
    if (snap.inbound) {
      call.direction = 'inbound';
      call.external = snap.inbound.from;
      call.did = snap.inbound.to || call.did;
      call.trunk = snap.inbound.trunk || call.trunk;
    } else if (snap.outbound && call.direction !== 'inbound') {
      call.direction = 'outbound';
      call.external = snap.outbound.to;
      call.trunk = snap.outbound.trunk || call.trunk;
    } else if (call.direction === undefined && snap.extensions.length >= 2) {
      call.direction = 'internal';
    }
    const path = [snap.inbound?.path, snap.outbound?.path, ...snap.extensions.map((e) => e.path)].find((p) => p !== undefined && p !== '');
    if (path) call.via = path;
    for (const e of snap.extensions) call.seenExtensions.add(e.number);
    call.extensions = snap.extensions.map((e) => ({ number: e.number, state: STATE_OF[e.status] ?? 'calling' }));
  }

  function allGone(snap: Snapshot): boolean {
    const statuses = [...snap.extensions.map((e) => e.status), snap.inbound?.status, snap.outbound?.status].filter((s): s is string => s !== undefined);
    return statuses.length === 0 || statuses.every((s) => s === 'BYE');
  }

  /** The extension that is talking with the outside party now, if any. */
  function talkingExtension(call: LiveCall, snap: Snapshot): string | undefined {
    if (call.direction === 'outbound') {
      const remoteUp = snap.outbound?.status === 'ANSWER' || snap.extensions.some((e) => e.status === 'ANSWERED');
      return remoteUp ? (snap.extensions.find((e) => e.status === 'ANSWERED' || e.status === 'ANSWER') ?? snap.extensions[0])?.number : undefined;
    }
    return snap.extensions.find((e) => e.status === 'ANSWER')?.number;
  }

  function onCallState(type: 30011 | 30013 | 30015 | 30016, msg: CallStateMsg): void {
    if (finished.has(msg.call_id)) return;
    const call = callFor(msg.call_id);
    const snap = readSnapshot(msg.members);
    const emptyFailure = type === 30015 && snap.extensions.length === 0 && !snap.inbound && !snap.outbound;
    if (!emptyFailure) applySnapshot(call, snap);
    if (call.direction === undefined) {
      // Undecided (a lone extension). A failure still matters: the click-to-call never got out.
      if (type === 30015 && !call.failed) {
        call.failed = true;
        call.ended = true;
        call.direction = 'outbound';
        send({ ...base(call, 'failed'), reason: msg.reason ?? 'failed' });
      }
      return;
    }

    if (type === 30015) {
      if (!call.failed) {
        call.failed = true;
        call.ended = true;
        send({ ...base(call, 'failed'), reason: msg.reason ?? 'failed' });
      }
      return;
    }
    if (call.ended) return;

    if (!call.announced) {
      call.announced = true;
      for (const e of call.extensions) if (e.state === 'ringing' || e.state === 'calling') call.ringingAnnounced.add(e.number);
      send(base(call, 'ringing'));
    }

    const talking = talkingExtension(call, snap);
    if (type === 30013) {
      if (talking) call.answeredBy = talking;
      send(base(call, 'transferred'));
    } else if (talking && call.answeredBy === undefined) {
      call.answeredBy = talking;
      send(base(call, 'answered'));
    } else if (talking && talking !== call.answeredBy && !snap.extensions.some((e) => e.number === call.answeredBy && e.status === 'ANSWER')) {
      // The call moved to another extension without a 30013 (e.g. attended transfer completed).
      call.answeredBy = talking;
      send(base(call, 'transferred'));
    } else if (call.answeredBy === undefined) {
      const newlyRinging = call.extensions.filter((e) => e.state === 'ringing' && !call.ringingAnnounced.has(e.number));
      if (newlyRinging.length > 0) {
        for (const e of newlyRinging) call.ringingAnnounced.add(e.number);
        send(base(call, 'ringing'));
      }
    }

    if (allGone(snap)) {
      call.ended = true;
      send(base(call, 'ended'));
    }
  }

  function settle(callId: string): void {
    const call = calls.get(callId);
    if (!call) return;
    calls.delete(callId);
    if (call.settleTimer !== undefined) clearTimeout(call.settleTimer);
    call.settleTimer = undefined;
    finished.set(callId, now());
    const folded = foldCdrLegs(callId, call.legs, {
      isExtension: knownExtension(call),
      extensionsKnown: call.seenExtensions.size > 0 || opts.isExtension !== undefined,
    });
    // A leg is heard when it ends: the call began at the latest its longest leg's duration before the first leg.
    const startedAt = Math.min(call.firstSeenAt, call.firstLegAt - folded.detail.callSeconds * 1000);
    send({
      portal: opts.portal,
      pbxCallId: callId,
      at: now(),
      kind: 'cdr',
      direction: folded.direction,
      external: folded.external || (folded.direction === 'internal' ? '' : call.external),
      extensions: folded.extensions.map((number) => ({ number, state: 'hangup' as const })),
      ...(folded.did ?? call.did ? { did: folded.did ?? call.did } : {}),
      ...(folded.trunk ?? call.trunk ? { trunk: folded.trunk ?? call.trunk } : {}),
      ...(folded.via ?? call.via ? { via: folded.via ?? call.via } : {}),
      cdr: { ...folded.detail, startedAt },
    });
  }

  function onCdrLeg(msg: CdrMsg): void {
    if (finished.has(msg.call_id)) return;
    const call = callFor(msg.call_id);
    if (call.legs.length === 0) call.firstLegAt = now();
    call.legs.push(legOf(msg));
    if (call.settleTimer !== undefined) clearTimeout(call.settleTimer);
    call.settleTimer = setTimeout(() => settle(msg.call_id), opts.settleMs);
  }

  return {
    accept(frame) {
      if (closed || frame.type === 'other') return;
      if (frame.type === 30012) onCdrLeg(frame.msg);
      else onCallState(frame.type, frame.msg);
    },
    flush() {
      for (const [id, call] of [...calls]) if (call.legs.length > 0) settle(id);
    },
    openCalls: () => calls.size,
    close() {
      for (const call of calls.values()) if (call.settleTimer !== undefined) clearTimeout(call.settleTimer);
      calls.clear();
      closed = true;
    },
  };
}
