/**
 * The call state machine: a pure function (state, input) → (state, intents), one state per PBX call
 * (keyed by portal + pbxCallId by the caller). No I/O here: intents are carried out by service.ts.
 * The rules are design.md §4; each one is pinned by test/unit/calls/machine.unit.spec.ts.
 */
import type { CallDirection, CallEvent, CallRecordingRef, CallResult } from '../pbx/adapter.js';
import type { CardMode } from '../store/records.js';
import { resultForReason, statusCodeFor } from './status-codes.js';

export type CallPhase = 'live' | 'ended' | 'logged' | 'ignored';
export type CallOrigin = 'pbx' | 'click-to-call' | 'callback';

/** telephony.externalCall.register TYPE: 1 outgoing, 2 incoming, 4 callback (register docs, §3.2 of the reference). */
export type RegisterType = 1 | 2 | 4;

export interface CallState {
  phase: CallPhase;
  origin: CallOrigin;
  direction: CallDirection;
  startedAt: number;
  lastEventAt: number;
  /** Extensions that rang (inbound) or placed the call (outbound), in order of first appearance. */
  rang: string[];
  placedBy?: string;
  /** The first bound user whose extension rang: credited when nobody answered. */
  firstUserId?: number;
  /** A register was emitted (or Bitrix24 registered the call itself: click-to-call). */
  registered: boolean;
  registerUserId?: number;
  /** Every user the card was shown to. */
  shownTo: number[];
  /** Users whose card is open now. */
  visible: number[];
  answeredBy?: string;
  answeredUserId?: number;
  answeredAt?: number;
  /** Set by a transfer to a bound extension: that user gets the call log. */
  transferredTo?: string;
  transferUserId?: number;
  endedAt?: number;
  failReason?: string;
  result?: CallResult;
  talkSeconds: number;
  /** finish (or its fallback) was emitted: never again. */
  finished: boolean;
  cdrSeen: boolean;
  recording?: CallRecordingRef;
  recordingRequested: boolean;
  registerFailed: boolean;
  fallbackQueued: boolean;
  /** Counter making the outbox keys of show/hide unique within the call. */
  seq: number;
  note?: string;
}

export interface MachineContext {
  /** Bitrix24 user bound to this extension, if any. */
  userFor(extension: string): number | undefined;
  /**
   * When this user's card opens (issue 11, set by an admin per employee): `ring` (default) at the first ring,
   * `answer` when they pick up (registered with SHOW 0, then telephony.externalCall.show), `never`.
   */
  cardModeFor?(userId: number): CardMode;
  /** Calls that touched only unbound extensions are logged to this user; null: not logged. */
  unboundCallsUserId: number | null;
  /** How long to wait for the CDR after the live events said the call ended. */
  cdrWaitMs: number;
}

export type CallInput =
  | { kind: 'event'; event: CallEvent }
  /** The bounded CDR wait ran out. `stale`: a live call nothing was heard of for too long (after a restart). */
  | { kind: 'cdrWaitElapsed'; at: number; stale?: boolean }
  /** The outbox parked a write of this call for good. */
  | { kind: 'writeParked'; write: 'register' | 'finish'; error: string };

export type CallIntent =
  | { type: 'lookup'; userId: number }
  | { type: 'register'; userId: number; callType: RegisterType; show: boolean; startedAt: number }
  | { type: 'show'; userIds: number[]; seq: number }
  | { type: 'hide'; userIds: number[]; seq: number }
  | { type: 'finish'; userId: number; durationSeconds: number; statusCode: string; result: CallResult; reason?: string }
  | { type: 'attachRecord'; recording: CallRecordingRef }
  /**
   * `received`: an inbound call that a bound extension received — the manual's trigger for contact sync; other calls
   * only sync a record auto-created for them. Absent (intents stored before issue 11): treated as received.
   */
  | { type: 'syncContact'; received?: boolean }
  | { type: 'awaitCdr'; ms: number }
  | { type: 'cancelCdrWait' }
  | { type: 'fallbackActivity'; userId: number; reason: string };

export interface Transition {
  state: CallState;
  intents: CallIntent[];
}

/** A call first heard from the PBX. */
export function newCallState(event: CallEvent): CallState {
  return {
    phase: 'live',
    origin: 'pbx',
    direction: event.direction,
    startedAt: event.cdr?.startedAt ?? event.at,
    lastEventAt: event.at,
    rang: [],
    registered: false,
    shownTo: [],
    visible: [],
    talkSeconds: 0,
    finished: false,
    cdrSeen: false,
    recordingRequested: false,
    registerFailed: false,
    fallbackQueued: false,
    seq: 0,
  };
}

/** Click-to-call: Bitrix24 registered the call already (ONEXTERNALCALLSTART); we must never register it again. */
export function openClickToCall(userId: number, extension: string, at: number): Transition {
  return {
    state: {
      ...newCallState({ portal: '', pbxCallId: '', at, kind: 'ringing', direction: 'outbound', external: '', extensions: [] }),
      origin: 'click-to-call',
      registered: true,
      registerUserId: userId,
      placedBy: extension,
      rang: [extension],
      shownTo: [userId],
    },
    intents: [],
  };
}

/** CRM callback form: we place the call and register it ourselves as TYPE 4 (callback), card shown to the user. */
export function openCallback(userId: number, extension: string, at: number): Transition {
  const state: CallState = {
    ...newCallState({ portal: '', pbxCallId: '', at, kind: 'ringing', direction: 'outbound', external: '', extensions: [] }),
    origin: 'callback',
    registered: true,
    registerUserId: userId,
    placedBy: extension,
    rang: [extension],
    shownTo: [userId],
    visible: [userId],
  };
  return { state, intents: [{ type: 'register', userId, callType: 4, show: true, startedAt: at }] };
}

export function step(previous: CallState, input: CallInput, ctx: MachineContext): Transition {
  const s: CallState = { ...previous, rang: [...previous.rang], shownTo: [...previous.shownTo], visible: [...previous.visible] };
  switch (input.kind) {
    case 'event':
      return { state: s, intents: onEvent(s, input.event, ctx) };
    case 'cdrWaitElapsed':
      return { state: s, intents: onCdrWaitElapsed(s, input.at, input.stale === true, ctx) };
    case 'writeParked':
      return { state: s, intents: onWriteParked(s, input.write, ctx) };
  }
}

function onEvent(s: CallState, e: CallEvent, ctx: MachineContext): CallIntent[] {
  if (s.phase === 'ignored') return [];
  s.lastEventAt = Math.max(s.lastEventAt, e.at);
  if (e.kind === 'cdr') return onCdr(s, e, ctx);
  if (s.phase !== 'live') return [];
  // Internal calls never reach the CRM. Calls we placed ourselves (click-to-call, callback) start with the
  // agent's own extension ringing, which the PBX may report as internal: those are ours whatever it says.
  if (s.origin === 'pbx' && s.direction === 'internal') {
    s.phase = 'ignored';
    s.note = 'internal call';
    return [];
  }
  switch (e.kind) {
    case 'ringing':
      return onRinging(s, e, ctx);
    case 'answered':
      return onAnswered(s, e, ctx);
    case 'transferred':
      return onTransferred(s, e, ctx);
    case 'failed':
      s.failReason = e.reason ?? s.failReason;
      noteTargets(s, e, ctx);
      return endCall(s, e.at, ctx);
    case 'ended':
      noteTargets(s, e, ctx);
      return endCall(s, e.at, ctx);
  }
}

function remember(s: CallState, extension: string): void {
  if (!s.rang.includes(extension)) s.rang.push(extension);
}

function registerType(s: CallState): RegisterType {
  if (s.origin === 'callback') return 4;
  return s.direction === 'outbound' ? 1 : 2;
}

function register(s: CallState, userId: number, show: boolean): CallIntent[] {
  s.registered = true;
  s.registerUserId = userId;
  if (show) {
    s.visible = [userId];
    if (!s.shownTo.includes(userId)) s.shownTo.push(userId);
  }
  return [
    { type: 'lookup', userId },
    { type: 'register', userId, callType: registerType(s), show, startedAt: s.startedAt },
  ];
}

function show(s: CallState, userIds: number[]): CallIntent[] {
  const fresh = userIds.filter((u) => !s.visible.includes(u));
  if (fresh.length === 0 || s.registerFailed) return [];
  s.visible.push(...fresh);
  for (const u of fresh) if (!s.shownTo.includes(u)) s.shownTo.push(u);
  s.seq += 1;
  return [{ type: 'show', userIds: fresh, seq: s.seq }];
}

function hide(s: CallState, userIds: number[]): CallIntent[] {
  const open = userIds.filter((u) => s.visible.includes(u));
  if (open.length === 0) return [];
  s.visible = s.visible.filter((u) => !open.includes(u));
  if (s.registerFailed) return [];
  s.seq += 1;
  return [{ type: 'hide', userIds: open, seq: s.seq }];
}

const modeOf = (ctx: MachineContext, userId: number): CardMode => ctx.cardModeFor?.(userId) ?? 'ring';
/** Users who want the card while their extension rings. */
const onRing = (ctx: MachineContext, users: number[]): number[] => users.filter((u) => modeOf(ctx, u) === 'ring');

function boundUsers(extensions: string[], ctx: MachineContext): number[] {
  const users: number[] = [];
  for (const ext of extensions) {
    const u = ctx.userFor(ext);
    if (u !== undefined && !users.includes(u)) users.push(u);
  }
  return users;
}

function onRinging(s: CallState, e: CallEvent, ctx: MachineContext): CallIntent[] {
  if (s.direction === 'outbound' || s.origin !== 'pbx') {
    const placer = e.extensions.find((x) => x.state === 'calling') ?? e.extensions[0];
    if (placer && s.placedBy === undefined) s.placedBy = placer.number;
    if (s.placedBy !== undefined) remember(s, s.placedBy);
    if (s.registered || s.placedBy === undefined) return [];
    const user = ctx.userFor(s.placedBy);
    return user === undefined ? [] : register(s, user, modeOf(ctx, user) === 'ring');
  }
  const ringing = e.extensions.filter((x) => x.state === 'ringing').map((x) => x.number);
  for (const ext of ringing) remember(s, ext);
  const users = boundUsers(ringing, ctx);
  const [first] = users;
  if (first === undefined) return [];
  if (s.firstUserId === undefined) s.firstUserId = first;
  // Once someone answered, late ring snapshots (other queue members) must not pop the card again.
  if (s.answeredAt !== undefined) return [];
  // The call is registered at the first ring whatever the mode (the call exists in Bitrix24 from then on); the card
  // only opens for users whose mode is `ring`.
  if (!s.registered) return [...register(s, first, modeOf(ctx, first) === 'ring'), ...show(s, onRing(ctx, users.slice(1)))];
  return show(s, onRing(ctx, users));
}

function onAnswered(s: CallState, e: CallEvent, ctx: MachineContext): CallIntent[] {
  if (s.answeredAt === undefined) s.answeredAt = e.at;
  if (s.direction === 'outbound' && s.origin === 'pbx') {
    // An outbound call placed by an `answer`-mode user: the card opens when the other side picks up.
    const placer = s.registerUserId;
    return placer !== undefined && s.registered && modeOf(ctx, placer) === 'answer' ? show(s, [placer]) : [];
  }
  if (s.direction === 'outbound' || s.origin !== 'pbx') return [];
  const answered = e.extensions.find((x) => x.state === 'answered');
  if (!answered || s.answeredBy !== undefined) return [];
  s.answeredBy = answered.number;
  remember(s, answered.number);
  const user = ctx.userFor(answered.number);
  s.answeredUserId = user;
  const intents: CallIntent[] = [];
  if (user !== undefined) {
    if (s.firstUserId === undefined) s.firstUserId = user;
    const wantsCard = modeOf(ctx, user) !== 'never';
    if (!s.registered) intents.push(...register(s, user, wantsCard));
    else if (wantsCard) intents.push(...show(s, [user]));
  }
  intents.push(...hide(s, s.visible.filter((u) => u !== user)));
  return intents;
}

function onTransferred(s: CallState, e: CallEvent, ctx: MachineContext): CallIntent[] {
  const holder = s.transferredTo ?? s.answeredBy ?? s.placedBy;
  const target = e.extensions.find((x) => x.number !== holder && x.state !== 'hangup');
  if (!target || target.number === s.transferredTo) return [];
  s.transferredTo = target.number;
  remember(s, target.number);
  const user = ctx.userFor(target.number);
  if (user === undefined) return [];
  s.transferUserId = user;
  const intents: CallIntent[] = [];
  // The transfer target takes the call (it is "answered" for them): every mode but `never` opens the card.
  const wantsCard = modeOf(ctx, user) !== 'never';
  if (!s.registered) intents.push(...register(s, user, wantsCard));
  else if (wantsCard) intents.push(...show(s, [user]));
  intents.push(...hide(s, s.visible.filter((u) => u !== user)));
  return intents;
}

/**
 * A busy or unreachable extension never rings: the failure event is the only place it appears. It still is
 * the user the missed call belongs to.
 */
function noteTargets(s: CallState, e: CallEvent, ctx: MachineContext): void {
  if (s.direction === 'outbound' || s.origin !== 'pbx') return;
  for (const x of e.extensions) {
    remember(s, x.number);
    const user = ctx.userFor(x.number);
    if (user !== undefined && s.firstUserId === undefined) s.firstUserId = user;
  }
}

function endCall(s: CallState, at: number, ctx: MachineContext): CallIntent[] {
  s.phase = 'ended';
  s.endedAt = at;
  return [{ type: 'awaitCdr', ms: ctx.cdrWaitMs }];
}

function onCdr(s: CallState, e: CallEvent, ctx: MachineContext): CallIntent[] {
  const cdr = e.cdr;
  if (!cdr) return [];
  const wasWaiting = s.phase === 'ended';
  s.cdrSeen = true;
  if (s.finished) {
    // The live path logged the call before this (late) CDR: it may still bring the recording.
    if (cdr.recording && !s.recordingRequested && !s.registerFailed && carriesRecording(cdr.result)) {
      s.recording = cdr.recording;
      s.recordingRequested = true;
      return [{ type: 'attachRecord', recording: cdr.recording }];
    }
    return [];
  }
  if (s.phase === 'live' && s.origin === 'pbx' && s.direction === 'internal') {
    s.phase = 'ignored';
    s.note = 'internal call';
    return [];
  }
  // The CDR names the extensions that took part: for a call heard only through the call history (recovered after
  // an outage) they are the only source of who rang, so a missed call is credited instead of ignored.
  noteTargets(s, e, ctx);
  s.result = cdr.result;
  s.talkSeconds = cdr.result === 'answered' ? Math.max(0, Math.round(cdr.talkSeconds)) : 0;
  if (cdr.startedAt !== undefined && cdr.startedAt < s.startedAt) s.startedAt = cdr.startedAt;
  if (s.endedAt === undefined) s.endedAt = e.at;
  if (cdr.placedBy !== undefined) {
    if (s.placedBy === undefined) s.placedBy = cdr.placedBy;
    remember(s, cdr.placedBy);
  }
  if (cdr.answeredBy !== undefined && cdr.result === 'answered' && s.direction !== 'outbound' && s.origin === 'pbx') {
    // The CDR names the agent leg (not the IVR or queue): it wins over what the live snapshots suggested.
    s.answeredBy = cdr.answeredBy;
    remember(s, cdr.answeredBy);
    const user = ctx.userFor(cdr.answeredBy);
    if (user !== undefined) s.answeredUserId = user;
  }
  if (cdr.result === 'answered' && s.answeredAt === undefined) s.answeredAt = s.endedAt - s.talkSeconds * 1000;
  if (cdr.recording) s.recording = cdr.recording;
  const intents = finalize(s, ctx);
  return wasWaiting ? [{ type: 'cancelCdrWait' }, ...intents] : intents;
}

function onCdrWaitElapsed(s: CallState, at: number, stale: boolean, ctx: MachineContext): CallIntent[] {
  if (s.finished || s.phase === 'ignored' || s.phase === 'logged') return [];
  if (s.phase === 'live') {
    if (!stale) return [];
    s.endedAt = s.lastEventAt;
  }
  const endedAt = s.endedAt ?? at;
  if (s.answeredAt !== undefined) {
    s.result = 'answered';
    s.talkSeconds = Math.max(0, Math.round((endedAt - s.answeredAt) / 1000));
  } else {
    s.result = resultForReason(s.failReason);
    s.talkSeconds = 0;
  }
  s.note = 'logged from live events: no CDR arrived in time';
  return finalize(s, ctx);
}

/** Who the call log is credited to (design §4.3): a transfer target, the answering agent, else the first ringing user. */
function creditedUser(s: CallState, ctx: MachineContext): number | undefined {
  if (s.transferUserId !== undefined) return s.transferUserId;
  if (s.origin !== 'pbx') return s.registerUserId;
  if (s.direction === 'outbound') {
    const placer = s.placedBy === undefined ? undefined : ctx.userFor(s.placedBy);
    return placer ?? s.registerUserId ?? ctx.unboundCallsUserId ?? undefined;
  }
  return s.answeredUserId ?? s.firstUserId ?? s.registerUserId ?? ctx.unboundCallsUserId ?? undefined;
}

/**
 * Whose audio goes on the call: the conversation of an answered call, and the message of a missed call that left a
 * voicemail (issue 11: Bitrix24 then plays the message on the missed call, as its recording). A plain missed call's
 * file, if any, is an IVR prompt, not worth attaching.
 */
function carriesRecording(result: CallResult): boolean {
  return result === 'answered' || result === 'voicemail';
}

/** The one finish of the call (or its fallback), then the recording and the contact sync. */
function finalize(s: CallState, ctx: MachineContext): CallIntent[] {
  const result = s.result ?? 'missed';
  const userId = creditedUser(s, ctx);
  if (userId === undefined) {
    s.phase = 'ignored';
    s.note = 'only unbound extensions took part and no user is set for unbound calls';
    return [];
  }
  const intents: CallIntent[] = [];
  // A call first heard from its CDR (recovered after an outage) or credited to the unbound-calls user is
  // registered without popping a card: it is over already.
  if (!s.registered) intents.push(...register(s, userId, false));
  s.finished = true;
  s.phase = 'logged';
  s.result = result;
  const durationSeconds = result === 'answered' ? s.talkSeconds : 0;
  if (s.registerFailed) {
    s.fallbackQueued = true;
    intents.push({ type: 'fallbackActivity', userId, reason: 'telephony.externalCall.register failed' });
  } else {
    intents.push({
      type: 'finish',
      userId,
      durationSeconds,
      statusCode: statusCodeFor(result, s.failReason),
      result,
      ...(s.failReason ? { reason: s.failReason } : {}),
    });
    if (s.recording && carriesRecording(result) && !s.recordingRequested) {
      s.recordingRequested = true;
      intents.push({ type: 'attachRecord', recording: s.recording });
    }
  }
  s.visible = [];
  const received = s.origin === 'pbx' && s.direction === 'inbound'
    && (s.firstUserId !== undefined || s.answeredUserId !== undefined || s.transferUserId !== undefined);
  intents.push({ type: 'syncContact', received });
  return intents;
}

function onWriteParked(s: CallState, write: 'register' | 'finish', ctx: MachineContext): CallIntent[] {
  if (write === 'register') s.registerFailed = true;
  if (!s.finished || s.fallbackQueued) return [];
  const userId = creditedUser(s, ctx);
  if (userId === undefined) return [];
  s.fallbackQueued = true;
  return [{ type: 'fallbackActivity', userId, reason: `telephony.externalCall.${write} failed` }];
}
