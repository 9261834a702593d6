import { describe, expect, it } from 'vitest';
import type { CallDetail, CallEvent, CallExtension } from '../../../server/pbx/adapter.js';
import {
  newCallState, openCallback, openClickToCall, step,
  type CallInput, type CallIntent, type CallState, type MachineContext,
} from '../../../server/calls/machine.js';

// Bindings: 1001 → user 11, 1002 → 12, 1003 → 13; 2001 (and the IVR 6200, queue 6400) are unbound.
const BINDINGS: Record<string, number> = { '1001': 11, '1002': 12, '1003': 13 };
const ctx = (over: Partial<MachineContext> = {}): MachineContext => ({
  userFor: (ext) => BINDINGS[ext],
  unboundCallsUserId: null,
  cdrWaitMs: 60_000,
  ...over,
});

const T0 = 1_700_000_000_000;
let clock = T0;
function ev(kind: CallEvent['kind'], extensions: [string, CallExtension['state']][] = [], extra: Partial<CallEvent> = {}): CallEvent {
  clock += 1000;
  return {
    portal: 'p1', pbxCallId: '1700000000.1', at: clock, kind, direction: 'inbound', external: '+15551234567',
    extensions: extensions.map(([number, state]) => ({ number, state })), ...extra,
  };
}
const cdr = (detail: Partial<CallDetail>, extra: Partial<CallEvent> = {}): CallEvent =>
  ev('cdr', [], { cdr: { result: 'answered', talkSeconds: 0, callSeconds: 0, ...detail }, ...extra });

/** Feeds inputs through the machine from a fresh state (or `start`); returns the final state and all intents in order. */
function run(inputs: (CallEvent | CallInput)[], c: MachineContext = ctx(), start?: CallState): { state: CallState; intents: CallIntent[] } {
  let state = start;
  const intents: CallIntent[] = [];
  for (const raw of inputs) {
    const input: CallInput = 'kind' in raw && (raw.kind === 'cdrWaitElapsed' || raw.kind === 'writeParked') ? raw : { kind: 'event', event: raw as CallEvent };
    const current = state ?? newCallState((input as { event: CallEvent }).event);
    const t = step(current, input, c);
    state = t.state;
    intents.push(...t.intents);
  }
  if (!state) throw new Error('no input');
  return { state, intents };
}
const types = (intents: CallIntent[]) => intents.map((i) => i.type);
const of = <T extends CallIntent['type']>(intents: CallIntent[], type: T) =>
  intents.filter((i): i is Extract<CallIntent, { type: T }> => i.type === type);

describe('call machine: inbound', () => {
  it('answered: lookup + register TYPE 2 for the ringing user, one finish 200 with the CDR talk time, then the recording', () => {
    const { state, intents } = run([
      ev('ringing', [['1001', 'ringing']]),
      ev('answered', [['1001', 'answered']]),
      ev('ended'),
      cdr({ result: 'answered', talkSeconds: 42, answeredBy: '1001', recording: { ref: 'r.wav', filename: 'r.wav' } }),
    ]);
    expect(types(intents)).toEqual(['lookup', 'register', 'awaitCdr', 'cancelCdrWait', 'finish', 'attachRecord', 'syncContact']);
    expect(of(intents, 'register')[0]).toMatchObject({ userId: 11, callType: 2, show: true });
    expect(of(intents, 'finish')[0]).toMatchObject({ userId: 11, durationSeconds: 42, statusCode: '200', result: 'answered' });
    expect(state.phase).toBe('logged');
    expect(state.answeredBy).toBe('1001');
  });

  it('missed: finish 304 with DURATION 0 credited to the first ringing user, no recording', () => {
    const { intents } = run([
      ev('ringing', [['1001', 'ringing']]),
      ev('ended'),
      cdr({ result: 'missed', talkSeconds: 0 }),
    ]);
    expect(of(intents, 'finish')).toEqual([{ type: 'finish', userId: 11, durationSeconds: 0, statusCode: '304', result: 'missed' }]);
    expect(of(intents, 'attachRecord')).toEqual([]);
  });

  it('voicemail: a missed call that left a message gets the message attached as its recording', () => {
    // Issue 11: the message is what the agent needs to hear; before, only answered calls carried audio.
    const { intents } = run([
      ev('ringing', [['1001', 'ringing']]),
      ev('ended'),
      cdr({ result: 'voicemail', talkSeconds: 12, recording: { ref: 'vm.wav', filename: 'vm.wav' } }),
    ]);
    expect(types(intents)).toEqual(['lookup', 'register', 'awaitCdr', 'cancelCdrWait', 'finish', 'attachRecord', 'syncContact']);
    expect(of(intents, 'finish')[0]).toMatchObject({ statusCode: '304', durationSeconds: 0, result: 'voicemail' });
    expect(of(intents, 'attachRecord')).toEqual([{ type: 'attachRecord', recording: { ref: 'vm.wav', filename: 'vm.wav' } }]);
  });

  it('a plain missed call with a file (an IVR prompt) attaches nothing', () => {
    const { intents } = run([ev('ringing', [['1001', 'ringing']]), ev('ended'), cdr({ result: 'missed', recording: { ref: 'ivr.wav', filename: 'ivr.wav' } })]);
    expect(of(intents, 'attachRecord')).toEqual([]);
  });

  it('busy: finish 486; voicemail: 304', () => {
    expect(of(run([ev('ringing', [['1001', 'ringing']]), ev('ended'), cdr({ result: 'busy' })]).intents, 'finish')[0]?.statusCode).toBe('486');
    expect(of(run([ev('ringing', [['1001', 'ringing']]), ev('ended'), cdr({ result: 'voicemail', talkSeconds: 12 })]).intents, 'finish')[0])
      .toMatchObject({ statusCode: '304', durationSeconds: 0 });
  });

  it('failed with a 30015 reason: the SIP code becomes STATUS_CODE', () => {
    const { intents } = run([
      ev('ringing', [['1001', 'ringing']]),
      ev('failed', [], { reason: '480 Temporarily Unavailable' }),
      cdr({ result: 'failed' }),
    ]);
    expect(of(intents, 'finish')[0]).toMatchObject({ statusCode: '480', result: 'failed', reason: '480 Temporarily Unavailable' });
  });

  it('busy extension that never rang: the failure event names it, the missed call is credited to its user', () => {
    const { intents } = run([
      ev('ringing', []),
      ev('failed', [['1003', 'hangup']], { reason: '486 Busy Here' }),
      cdr({ result: 'busy' }),
    ]);
    expect(of(intents, 'register')[0]).toMatchObject({ userId: 13, show: false });
    expect(of(intents, 'finish')[0]).toMatchObject({ userId: 13, statusCode: '486', durationSeconds: 0 });
  });

  it('ring group: show to the other bound users, hide them when one answers, exactly one finish credited to the answerer', () => {
    const { intents } = run([
      ev('ringing', [['1001', 'ringing'], ['1002', 'ringing'], ['2001', 'ringing']]),
      ev('ringing', [['1001', 'ringing'], ['1002', 'ringing'], ['1003', 'ringing']]),
      ev('answered', [['1002', 'answered'], ['1001', 'hangup'], ['1003', 'hangup']]),
      ev('answered', [['1002', 'answered']]),
      ev('ended'),
      cdr({ result: 'answered', talkSeconds: 30, answeredBy: '1002' }),
      cdr({ result: 'answered', talkSeconds: 30, answeredBy: '1002' }),
    ]);
    expect(types(intents)).toEqual(['lookup', 'register', 'show', 'show', 'hide', 'awaitCdr', 'cancelCdrWait', 'finish', 'syncContact']);
    expect(of(intents, 'register')[0]?.userId).toBe(11);
    expect(of(intents, 'show').map((i) => i.userIds)).toEqual([[12], [13]]);
    expect(of(intents, 'hide')[0]?.userIds).toEqual([11, 13]);
    expect(of(intents, 'finish')[0]).toMatchObject({ userId: 12, durationSeconds: 30 });
    const seqs = [...of(intents, 'show'), ...of(intents, 'hide')].map((i) => i.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  it('queue behind an IVR: unbound IVR/queue legs are not credited; the CDR agent leg is', () => {
    const { intents, state } = run([
      ev('ringing', [['6200', 'ringing']], { via: '6200' }),
      ev('ringing', [['1001', 'ringing'], ['1003', 'ringing']], { via: '6400' }),
      ev('answered', [['1003', 'answered']]),
      ev('ended'),
      cdr({ result: 'answered', talkSeconds: 65, answeredBy: '1003' }),
    ]);
    expect(of(intents, 'register')).toHaveLength(1);
    expect(of(intents, 'finish')).toEqual([expect.objectContaining({ userId: 13, durationSeconds: 65, statusCode: '200' })]);
    expect(state.rang).toEqual(['6200', '1001', '1003']);
  });

  it('the CDR credit wins when live snapshots missed the answer', () => {
    const { intents } = run([
      ev('ringing', [['1001', 'ringing'], ['1002', 'ringing']]),
      ev('ended'),
      cdr({ result: 'answered', talkSeconds: 8, answeredBy: '1002' }),
    ]);
    expect(of(intents, 'finish')[0]).toMatchObject({ userId: 12, durationSeconds: 8 });
  });

  it('transfer moves the card to the new user and the finish credits them', () => {
    const { intents } = run([
      ev('ringing', [['1001', 'ringing']]),
      ev('answered', [['1001', 'answered']]),
      ev('transferred', [['1001', 'hangup'], ['1002', 'ringing']]),
      ev('transferred', [['1002', 'answered']]),
      ev('ended'),
      cdr({ result: 'answered', talkSeconds: 90, answeredBy: '1001' }),
    ]);
    expect(types(intents)).toEqual(['lookup', 'register', 'show', 'hide', 'awaitCdr', 'cancelCdrWait', 'finish', 'syncContact']);
    expect(of(intents, 'show')[0]?.userIds).toEqual([12]);
    expect(of(intents, 'hide')[0]?.userIds).toEqual([11]);
    expect(of(intents, 'finish')[0]?.userId).toBe(12);
  });

  it('a bound user answering a call that rang only unbound extensions registers it for them', () => {
    const { intents } = run([ev('ringing', [['2001', 'ringing']]), ev('answered', [['1001', 'answered']])]);
    expect(of(intents, 'register')[0]).toMatchObject({ userId: 11, show: true });
  });
});

describe('call machine: outbound, internal, unbound', () => {
  const out = (kind: CallEvent['kind'], exts: [string, CallExtension['state']][] = [], extra: Partial<CallEvent> = {}) =>
    ev(kind, exts, { direction: 'outbound', ...extra });

  it('outbound answered: register TYPE 1 for the calling user, finish 200 with the talk time', () => {
    const { intents } = run([
      out('ringing', [['1002', 'calling']]),
      out('answered', [['1002', 'answered']]),
      out('ended'),
      cdr({ result: 'answered', talkSeconds: 15, placedBy: '1002' }, { direction: 'outbound' }),
    ]);
    expect(of(intents, 'register')[0]).toMatchObject({ userId: 12, callType: 1, show: true });
    expect(of(intents, 'finish')[0]).toMatchObject({ userId: 12, statusCode: '200', durationSeconds: 15 });
  });

  it('contact sync is marked "received" only for an inbound call a bound extension took (the manual\'s trigger)', () => {
    const outbound = run([out('ringing', [['1002', 'calling']]), out('ended'), cdr({ result: 'answered', talkSeconds: 3, placedBy: '1002' }, { direction: 'outbound' })]);
    expect(of(outbound.intents, 'syncContact')).toEqual([{ type: 'syncContact', received: false }]);
    const inbound = run([ev('ringing', [['1001', 'ringing']]), ev('ended'), cdr({ result: 'missed' })]);
    expect(of(inbound.intents, 'syncContact')).toEqual([{ type: 'syncContact', received: true }]);
    const unbound = run([ev('ringing', [['2001', 'ringing']]), ev('ended'), cdr({ result: 'missed' })], ctx({ unboundCallsUserId: 99 }));
    expect(of(unbound.intents, 'syncContact')).toEqual([{ type: 'syncContact', received: false }]);
  });

  it('outbound failed: finish with the mapped failure code', () => {
    const { intents } = run([
      out('ringing', [['1002', 'calling']]),
      out('failed', [], { reason: '404 NOT found' }),
      cdr({ result: 'failed', placedBy: '1002' }, { direction: 'outbound' }),
    ]);
    expect(of(intents, 'finish')[0]).toMatchObject({ userId: 12, statusCode: '404', durationSeconds: 0 });
  });

  it('internal call: nothing at all, even for its CDR', () => {
    const internal = (k: CallEvent['kind'], x: [string, CallExtension['state']][] = [], extra: Partial<CallEvent> = {}) =>
      ev(k, x, { direction: 'internal', external: '', ...extra });
    const { intents, state } = run([
      internal('ringing', [['1001', 'calling'], ['1002', 'ringing']]),
      internal('answered', [['1002', 'answered']]),
      internal('ended'),
      cdr({ result: 'answered', talkSeconds: 10 }, { direction: 'internal' }),
    ]);
    expect(intents).toEqual([]);
    expect(state.phase).toBe('ignored');
  });

  it('unbound extensions only: not logged by default', () => {
    const { intents, state } = run([ev('ringing', [['2001', 'ringing']]), ev('ended'), cdr({ result: 'missed' })]);
    expect(types(intents)).toEqual(['awaitCdr', 'cancelCdrWait']);
    expect(state.phase).toBe('ignored');
  });

  it('unbound extensions only with a default user: registered silently (SHOW 0) and finished for that user', () => {
    const { intents } = run([ev('ringing', [['2001', 'ringing']]), ev('ended'), cdr({ result: 'missed' })], ctx({ unboundCallsUserId: 1 }));
    expect(of(intents, 'register')[0]).toMatchObject({ userId: 1, show: false, callType: 2 });
    expect(of(intents, 'finish')[0]).toMatchObject({ userId: 1, statusCode: '304' });
  });
});

describe('call machine: per-user call card mode', () => {
  const modes = (m: Record<number, 'ring' | 'answer' | 'never'>) => ctx({ cardModeFor: (u) => m[u] ?? 'ring' });

  it('ring (default): the card opens at the first ring', () => {
    const { intents } = run([ev('ringing', [['1001', 'ringing']])], modes({}));
    expect(of(intents, 'register')[0]).toMatchObject({ userId: 11, show: true });
  });

  it('answer: registered with SHOW 0 at the ring, shown to that user when they answer', () => {
    const { intents, state } = run([ev('ringing', [['1001', 'ringing']]), ev('answered', [['1001', 'answered']])], modes({ 11: 'answer' }));
    expect(of(intents, 'register')[0]).toMatchObject({ userId: 11, show: false });
    expect(of(intents, 'show')).toEqual([{ type: 'show', userIds: [11], seq: 1 }]);
    expect(state.shownTo).toEqual([11]);
  });

  it('answer: a missed call never opens the card', () => {
    const { intents, state } = run([ev('ringing', [['1001', 'ringing']]), ev('ended'), cdr({ result: 'missed' })], modes({ 11: 'answer' }));
    expect(of(intents, 'show')).toEqual([]);
    expect(of(intents, 'register')[0]?.show).toBe(false);
    expect(state.shownTo).toEqual([]);
  });

  it('never: registered and logged, the card never opens, not even on answer or transfer', () => {
    const { intents, state } = run([
      ev('ringing', [['1001', 'ringing'], ['1002', 'ringing']]),
      ev('answered', [['1001', 'answered']]),
      ev('transferred', [['1001', 'hangup'], ['1003', 'ringing']]),
      ev('ended'),
      cdr({ result: 'answered', talkSeconds: 5, answeredBy: '1001' }),
    ], modes({ 11: 'never', 12: 'ring', 13: 'never' }));
    expect(of(intents, 'register')[0]).toMatchObject({ userId: 11, show: false });
    expect(of(intents, 'show').flatMap((i) => i.userIds)).toEqual([12]);
    expect(state.shownTo).toEqual([12]);
    expect(of(intents, 'finish')).toHaveLength(1);
  });

  it('a ring group: each user by their own mode', () => {
    const { intents } = run([ev('ringing', [['1001', 'ringing'], ['1002', 'ringing'], ['1003', 'ringing']])], modes({ 12: 'answer', 13: 'never' }));
    expect(of(intents, 'register')[0]).toMatchObject({ userId: 11, show: true });
    expect(of(intents, 'show')).toEqual([]);
  });

  it('outbound, answer mode: SHOW 0 while dialing, shown when the other side answers', () => {
    const out = (kind: CallEvent['kind'], state: CallExtension['state']) => ev(kind, [['1001', state]], { direction: 'outbound' });
    const { intents } = run([out('ringing', 'calling'), out('answered', 'answered')], modes({ 11: 'answer' }));
    expect(of(intents, 'register')[0]).toMatchObject({ userId: 11, callType: 1, show: false });
    expect(of(intents, 'show')).toEqual([{ type: 'show', userIds: [11], seq: 1 }]);
  });
});

describe('call machine: durability', () => {
  it('duplicate live events and a duplicate CDR never produce a second register or finish', () => {
    const ring = ev('ringing', [['1001', 'ringing']]);
    const answer = ev('answered', [['1001', 'answered']]);
    const end = ev('ended');
    const c = cdr({ result: 'answered', talkSeconds: 5, answeredBy: '1001', recording: { ref: 'x', filename: 'x.wav' } });
    const { intents } = run([ring, ring, answer, answer, end, end, c, c]);
    expect(of(intents, 'register')).toHaveLength(1);
    expect(of(intents, 'finish')).toHaveLength(1);
    expect(of(intents, 'attachRecord')).toHaveLength(1);
    expect(of(intents, 'awaitCdr')).toHaveLength(1);
  });

  it('events out of order: a CDR before ended logs once; late live events after it do nothing', () => {
    const { intents } = run([
      ev('ringing', [['1001', 'ringing']]),
      cdr({ result: 'answered', talkSeconds: 7, answeredBy: '1001' }),
      ev('answered', [['1001', 'answered']]),
      ev('ended'),
      ev('ringing', [['1002', 'ringing']]),
    ]);
    expect(types(intents)).toEqual(['lookup', 'register', 'finish', 'syncContact']);
  });

  it('a recovered CDR for a call never seen live: register (SHOW 0) + finish + recording', () => {
    const { intents, state } = run([
      cdr({ result: 'answered', talkSeconds: 20, answeredBy: '1003', recording: { ref: 'y', filename: 'y.wav' }, startedAt: T0 }, { recovered: true }),
    ]);
    expect(types(intents)).toEqual(['lookup', 'register', 'finish', 'attachRecord', 'syncContact']);
    expect(of(intents, 'register')[0]).toMatchObject({ userId: 13, show: false, callType: 2, startedAt: T0 });
    expect(state.phase).toBe('logged');
  });

  it('a recovered CDR of a call MISSED while we were down is credited to the bound extension that rang', () => {
    // Before: onCdr never read the CDR's extensions, so a missed call heard only through the call history had no
    // ringing user and was ignored as "only unbound extensions took part". After: it is registered and finished as missed.
    const { intents, state } = run([
      cdr({ result: 'missed', talkSeconds: 0, startedAt: T0 }, { recovered: true, extensions: [{ number: '1002', state: 'hangup' }] }),
    ]);
    expect(types(intents)).toEqual(['lookup', 'register', 'finish', 'syncContact']);
    expect(of(intents, 'register')[0]).toMatchObject({ userId: 12, show: false });
    expect(of(intents, 'finish')[0]).toMatchObject({ userId: 12, statusCode: '304' });
    expect(state.phase).toBe('logged');
  });

  it('live without CDR: the bounded wait finishes from the live events (talk time from answer to end)', () => {
    const ring = ev('ringing', [['1001', 'ringing']]);
    const answer = ev('answered', [['1001', 'answered']]);
    clock += 60_000;
    const end = ev('ended');
    const { intents, state } = run([ring, answer, end, { kind: 'cdrWaitElapsed', at: end.at + 60_000 }]);
    expect(of(intents, 'finish')[0]).toMatchObject({ userId: 11, statusCode: '200', durationSeconds: (end.at - answer.at) / 1000 });
    expect(state.note).toMatch(/no CDR/);
    // A CDR arriving afterwards only adds the recording.
    const late = step(state, { kind: 'event', event: cdr({ result: 'answered', talkSeconds: 61, recording: { ref: 'z', filename: 'z.wav' } }) }, ctx());
    expect(types(late.intents)).toEqual(['attachRecord']);
  });

  it('live without CDR and never answered: missed, or the failure reason heard live', () => {
    const missed = run([ev('ringing', [['1001', 'ringing']]), ev('ended'), { kind: 'cdrWaitElapsed', at: clock + 60_000 }]);
    expect(of(missed.intents, 'finish')[0]).toMatchObject({ statusCode: '304', result: 'missed' });
    const busy = run([ev('ringing', [['1001', 'ringing']]), ev('failed', [], { reason: 'User Busy' }), { kind: 'cdrWaitElapsed', at: clock + 60_000 }]);
    expect(of(busy.intents, 'finish')[0]).toMatchObject({ statusCode: '486', result: 'busy' });
  });

  it('the wait does nothing on a live call unless it is stale (resumed after a restart)', () => {
    const ring = run([ev('ringing', [['1001', 'ringing']])]);
    expect(step(ring.state, { kind: 'cdrWaitElapsed', at: clock }, ctx()).intents).toEqual([]);
    expect(types(step(ring.state, { kind: 'cdrWaitElapsed', at: clock, stale: true }, ctx()).intents)).toEqual(['finish', 'syncContact']);
  });

  it('register parked before the end: the call is logged by the fallback activity instead of finish', () => {
    const { intents } = run([
      ev('ringing', [['1001', 'ringing']]),
      { kind: 'writeParked', write: 'register', error: 'ERROR_CORE' },
      ev('ringing', [['1001', 'ringing'], ['1002', 'ringing']]),
      ev('ended'),
      cdr({ result: 'missed' }),
    ]);
    expect(types(intents)).toEqual(['lookup', 'register', 'awaitCdr', 'cancelCdrWait', 'fallbackActivity', 'syncContact']);
  });

  it('register or finish parked after the finish: exactly one fallback activity', () => {
    const done = run([ev('ringing', [['1001', 'ringing']]), cdr({ result: 'answered', talkSeconds: 3, answeredBy: '1001' })]);
    const a = step(done.state, { kind: 'writeParked', write: 'register', error: 'x' }, ctx());
    const b = step(a.state, { kind: 'writeParked', write: 'finish', error: 'x' }, ctx());
    expect([...a.intents, ...b.intents]).toEqual([{ type: 'fallbackActivity', userId: 11, reason: 'telephony.externalCall.register failed' }]);
  });
});

describe('call machine: calls we placed', () => {
  it('click-to-call: never registers, finishes for the clicking user even when the PBX reports the first leg as internal', () => {
    const open = openClickToCall(11, '1001', T0);
    expect(open.intents).toEqual([]);
    const { intents } = run([
      ev('ringing', [['1001', 'ringing']], { direction: 'internal' }),
      ev('answered', [['1001', 'answered']], { direction: 'outbound' }),
      ev('ended', [], { direction: 'outbound' }),
      cdr({ result: 'answered', talkSeconds: 33, placedBy: '1001', recording: { ref: 'c', filename: 'c.wav' } }, { direction: 'outbound' }),
    ], ctx(), open.state);
    expect(types(intents)).toEqual(['awaitCdr', 'cancelCdrWait', 'finish', 'attachRecord', 'syncContact']);
    expect(of(intents, 'finish')[0]).toMatchObject({ userId: 11, durationSeconds: 33, statusCode: '200' });
  });

  it('callback: registered as TYPE 4 for the chosen user at once, then one finish', () => {
    const open = openCallback(12, '1002', T0);
    expect(open.intents).toEqual([{ type: 'register', userId: 12, callType: 4, show: true, startedAt: T0 }]);
    const { intents } = run([ev('ringing', [['1002', 'calling']], { direction: 'outbound' }), cdr({ result: 'missed' }, { direction: 'outbound' })], ctx(), open.state);
    expect(of(intents, 'register')).toEqual([]);
    expect(of(intents, 'finish')[0]).toMatchObject({ userId: 12, statusCode: '304' });
  });
});
