import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CallEvent } from '../../../server/pbx/adapter.js';
import { parseEventFrame } from '../../../server/pbx/yeastar/frames.js';
import { createCallNormalizer, type CallNormalizer } from '../../../server/pbx/yeastar/normalize.js';

/**
 * The normalizer on the real frames captured from a P570 (reference §7, pienaahj/pbx-api) and on the
 * shape of every scenario: one logical call per call_id, direction, numbers, who answered, final status.
 */

const CAPTURED = {
  inboundAlert: '{"type":30011,"sn":"3633D2199067","msg":"{\\"call_id\\":\\"1702364968.127\\",\\"members\\":[{\\"inbound\\":{\\"from\\":\\"0813539441\\",\\"to\\":\\"27872858652\\",\\"trunk_name\\":\\"27872858652_SIP\\",\\"channel_id\\":\\"PJSIP/trunk-27872858652_SIP-endpoint-0000003c\\",\\"member_status\\":\\"ALERT\\",\\"call_path\\":\\"\\"}}]}"}',
  extRinging: '{"type":30011,"sn":"3633D2199067","msg":"{\\"call_id\\":\\"1702364968.127\\",\\"members\\":[{\\"extension\\":{\\"number\\":\\"700\\",\\"channel_id\\":\\"PJSIP/700-0000003d\\",\\"member_status\\":\\"RING\\",\\"call_path\\":\\"\\"}},{\\"inbound\\":{\\"from\\":\\"0813539441\\",\\"to\\":\\"27872858652\\",\\"trunk_name\\":\\"27872858652_SIP\\",\\"channel_id\\":\\"PJSIP/trunk-27872858652_SIP-endpoint-0000003c\\",\\"member_status\\":\\"ALERT\\",\\"call_path\\":\\"\\"}}]}"}',
  invitation: '{"type":30016,"sn":"3633D2199067","msg":"{\\"call_id\\":\\"1702364968.127\\",\\"members\\":[{\\"inbound\\":{\\"from\\":\\"0813539441\\",\\"to\\":\\"27872858652\\",\\"trunk_name\\":\\"27872858652_SIP\\",\\"channel_id\\":\\"PJSIP/trunk-27872858652_SIP-endpoint-0000003c\\",\\"member_status\\":\\"ALERT\\",\\"call_path\\":\\"\\"}}]}"}',
  failed: '{"type":30015,"sn":"3633D2199067","msg":"{\\"call_id\\":\\"1702364968.127\\",\\"reason\\":\\"487 Request Terminated\\",\\"members\\":[{\\"extension\\":{\\"number\\":\\"700\\",\\"channel_id\\":\\"PJSIP/700-0000003d\\",\\"member_status\\":\\"RING\\",\\"call_path\\":\\"\\"}},{\\"inbound\\":{\\"from\\":\\"0813539441\\",\\"to\\":\\"27872858652\\",\\"trunk_name\\":\\"27872858652_SIP\\",\\"channel_id\\":\\"PJSIP/trunk-27872858652_SIP-endpoint-0000003c\\",\\"member_status\\":\\"BYE\\",\\"call_path\\":\\"\\"}}]}"}',
  missedCdr: '{"type":30012,"sn":"3633D2199067","msg":"{\\"call_id\\":\\"1702364968.127\\",\\"time_start\\":\\"2023-12-12 09:09:28\\",\\"call_from\\":\\"0813539441\\",\\"call_to\\":\\"700\\",\\"call_duration\\":14,\\"talk_duration\\":0,\\"src_trunk_name\\":\\"27872858652_SIP\\",\\"dst_trunk_name\\":\\"\\",\\"pin_code\\":\\"\\",\\"status\\":\\"NO ANSWER\\",\\"type\\":\\"Inbound\\",\\"recording\\":\\"\\",\\"did_number\\":\\"\\",\\"agent_ring_time\\":0}"}',
  outboundAnsweredSide: '{"type":30011,"sn":"3633D2199067","msg":"{\\"call_id\\":\\"1694541708.49\\",\\"members\\":[{\\"extension\\":{\\"number\\":\\"700\\",\\"channel_id\\":\\"PJSIP/700-00000015\\",\\"member_status\\":\\"ANSWERED\\",\\"call_path\\":\\"\\"}}]}"}',
  extStatus: '{"type":30008,"sn":"3633D2199067","msg":"{\\"extension\\":\\"700\\",\\"status\\":\\"Busy\\"}"}',
  outboundFailedCdr: '{"type":30012,"sn":"3633D2199067","msg":"{\\"call_id\\":\\"1694541708.49\\",\\"time_start\\":\\"2023-09-12 20:02:22\\",\\"call_from\\":\\"700\\",\\"call_to\\":\\"0813539441\\",\\"call_duration\\":0,\\"talk_duration\\":0,\\"src_trunk_name\\":\\"\\",\\"dst_trunk_name\\":\\"\\",\\"pin_code\\":\\"\\",\\"status\\":\\"FAILED\\",\\"type\\":\\"Outbound\\",\\"recording\\":\\"\\",\\"did_number\\":\\"\\",\\"agent_ring_time\\":0}"}',
};

type Party = { from?: string; to?: string; trunk_name?: string; number?: string; member_status: string; call_path?: string };
type Member = { extension?: Party; inbound?: Party; outbound?: Party };

function frame(type: number, msg: Record<string, unknown>, asString = true): string {
  return JSON.stringify({ type, sn: 'SN1', msg: asString ? JSON.stringify(msg) : msg });
}
const snap = (callId: string, members: Member[], type = 30011) => frame(type, { call_id: callId, members });
const ext = (number: string, member_status: string, call_path = ''): Member => ({ extension: { number, member_status, call_path } });
const inb = (from: string, to: string, member_status: string, call_path = ''): Member => ({ inbound: { from, to, trunk_name: 'SIP1', member_status, call_path } });
const outb = (from: string, to: string, member_status: string): Member => ({ outbound: { from, to, trunk_name: 'SIP1', member_status } });
const leg = (callId: string, from: string, to: string, status: string, type: string, talk = 0, recording = '', did = '') =>
  frame(30012, { call_id: callId, call_from: from, call_to: to, call_duration: talk + 5, talk_duration: talk, src_trunk_name: type === 'Inbound' ? 'SIP1' : '', dst_trunk_name: type === 'Outbound' ? 'SIP1' : '', status, type, recording, did_number: did });

describe('call normalizer', () => {
  let events: CallEvent[];
  let n: CallNormalizer;
  const feed = (...raws: string[]) => {
    for (const raw of raws) {
      const parsed = parseEventFrame(raw);
      if (parsed.ok) n.accept(parsed.frame);
    }
  };
  const kinds = () => events.map((e) => e.kind);

  beforeEach(() => {
    vi.useFakeTimers();
    events = [];
    n = createCallNormalizer({ portal: 'p1', settleMs: 1000, emit: (e) => events.push(e), isExtension: (x) => /^\d{3,4}$/.test(x) && !x.startsWith('6') });
  });
  afterEach(() => {
    n.close();
    vi.useRealTimers();
  });

  it('captured inbound call that was missed: ringing, ringing (extension), failed, then one missed cdr', () => {
    feed(CAPTURED.invitation, CAPTURED.inboundAlert, CAPTURED.extRinging, CAPTURED.failed, CAPTURED.missedCdr);
    expect(kinds()).toEqual(['ringing', 'ringing', 'failed']);
    expect(events[0]).toMatchObject({ portal: 'p1', pbxCallId: '1702364968.127', direction: 'inbound', external: '0813539441', did: '27872858652', trunk: '27872858652_SIP', extensions: [] });
    expect(events[1]?.extensions).toEqual([{ number: '700', state: 'ringing' }]);
    expect(events[2]).toMatchObject({ reason: '487 Request Terminated' });
    vi.advanceTimersByTime(1000);
    expect(kinds()).toEqual(['ringing', 'ringing', 'failed', 'cdr']);
    expect(events[3]).toMatchObject({
      kind: 'cdr', direction: 'inbound', external: '0813539441', did: '27872858652', trunk: '27872858652_SIP',
      cdr: { result: 'missed', talkSeconds: 0, callSeconds: 14 },
    });
    expect(events[3]?.cdr?.answeredBy).toBeUndefined();
  });

  it('captured outbound failure: lone extension is held back, the Outbound FAILED cdr decides', () => {
    feed(CAPTURED.outboundAnsweredSide, CAPTURED.extStatus, CAPTURED.outboundFailedCdr);
    expect(events).toEqual([]);
    vi.advanceTimersByTime(1000);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'cdr', direction: 'outbound', external: '0813539441', cdr: { result: 'failed', placedBy: '700', talkSeconds: 0 } });
  });

  it('inbound answered: ringing → answered → ended → cdr credited to the agent with recording', () => {
    feed(
      snap('c1', [inb('+15550001', '200', 'ALERT')], 30016),
      snap('c1', [inb('+15550001', '200', 'ALERT')]),
      snap('c1', [ext('1001', 'RING'), inb('+15550001', '200', 'ALERT')]),
      snap('c1', [ext('1001', 'ANSWER'), inb('+15550001', '200', 'ANSWERED')]),
      snap('c1', [ext('1001', 'ANSWER'), inb('+15550001', '200', 'BYE')]),
      snap('c1', [ext('1001', 'BYE')]),
      leg('c1', '+15550001', '1001', 'ANSWERED', 'Inbound', 42, 'rec-c1.wav', '200'),
    );
    expect(kinds()).toEqual(['ringing', 'ringing', 'answered', 'ended']);
    expect(events[2]?.extensions).toEqual([{ number: '1001', state: 'answered' }]);
    vi.advanceTimersByTime(1000);
    const cdr = events.at(-1);
    expect(cdr).toMatchObject({ kind: 'cdr', external: '+15550001', did: '200', cdr: { result: 'answered', answeredBy: '1001', talkSeconds: 42, recording: { ref: 'rec-c1.wav', filename: 'rec-c1.wav' } } });
    expect(events.filter((e) => e.kind === 'cdr')).toHaveLength(1);
  });

  it('inbound busy: 30015 486 and a BUSY cdr', () => {
    feed(snap('c2', [inb('555', '200', 'ALERT')]), frame(30015, { call_id: 'c2', reason: '486 Busy Here', members: [ext('1001', 'BYE'), inb('555', '200', 'BYE')] }), leg('c2', '555', '1001', 'BUSY', 'Inbound'));
    expect(kinds()).toEqual(['ringing', 'failed']);
    vi.advanceTimersByTime(1000);
    expect(events.at(-1)?.cdr?.result).toBe('busy');
  });

  it('ring group: all ring in one event, one answers, the NO ANSWER legs do not steal the credit', () => {
    feed(
      snap('c3', [inb('555', '200', 'ALERT', '6300')]),
      snap('c3', [ext('1001', 'RING', '6300'), ext('1002', 'RING', '6300'), ext('1003', 'RING', '6300'), inb('555', '200', 'ALERT', '6300')]),
      snap('c3', [ext('1001', 'BYE'), ext('1002', 'ANSWER'), ext('1003', 'BYE'), inb('555', '200', 'ANSWERED')]),
      snap('c3', [ext('1002', 'BYE'), inb('555', '200', 'BYE')]),
      leg('c3', '555', '1001', 'NO ANSWER', 'Inbound'),
      leg('c3', '555', '1003', 'NO ANSWER', 'Inbound'),
      leg('c3', '555', '1002', 'ANSWERED', 'Inbound', 30, 'r.wav'),
    );
    expect(kinds()).toEqual(['ringing', 'ringing', 'answered', 'ended']);
    expect(events[1]?.extensions.map((e) => e.number)).toEqual(['1001', '1002', '1003']);
    expect(events[0]?.via).toBe('6300');
    vi.advanceTimersByTime(999);
    expect(kinds()).not.toContain('cdr');
    vi.advanceTimersByTime(1);
    expect(events.at(-1)?.cdr).toMatchObject({ result: 'answered', answeredBy: '1002', talkSeconds: 30 });
  });

  it('IVR → queue → agent: the IVR ANSWERED leg is never the credited one', () => {
    feed(
      snap('c4', [inb('555', '200', 'ANSWERED', '6200')]),
      snap('c4', [ext('1001', 'RING', '6400'), inb('555', '200', 'ANSWERED', '6400')]),
      snap('c4', [ext('1001', 'BYE', '6400'), inb('555', '200', 'ANSWERED', '6400')]),
      snap('c4', [ext('1002', 'RING', '6400'), inb('555', '200', 'ANSWERED', '6400')]),
      snap('c4', [ext('1002', 'ANSWER', '6400'), inb('555', '200', 'ANSWERED', '6400')]),
      snap('c4', [ext('1002', 'BYE', '6400'), inb('555', '200', 'BYE', '6400')]),
      leg('c4', '555', '6200', 'ANSWERED', 'Inbound', 60),
      leg('c4', '555', '1001', 'NO ANSWER', 'Inbound'),
      leg('c4', '555', '1002', 'ANSWERED', 'Inbound', 40, 'q.wav'),
    );
    expect(kinds()).toEqual(['ringing', 'ringing', 'ringing', 'answered', 'ended']);
    vi.advanceTimersByTime(1000);
    const cdr = events.at(-1);
    expect(cdr?.cdr).toMatchObject({ result: 'answered', answeredBy: '1002', talkSeconds: 40, recording: { ref: 'q.wav' } });
    expect(cdr?.via).toBe('6200');
  });

  it('a call that dies in the IVR is missed, not answered', () => {
    feed(snap('c5', [inb('555', '200', 'ANSWERED', '6200')]), snap('c5', [inb('555', '200', 'BYE', '6200')]), leg('c5', '555', '6200', 'ANSWERED', 'Inbound', 12));
    vi.advanceTimersByTime(1000);
    expect(events.at(-1)?.cdr).toMatchObject({ result: 'missed', talkSeconds: 0 });
  });

  it('blind transfer: 30013 → transferred, credit goes to the final agent', () => {
    feed(
      snap('c6', [ext('1001', 'RING'), inb('555', '200', 'ALERT')]),
      snap('c6', [ext('1001', 'ANSWER'), inb('555', '200', 'ANSWERED')]),
      snap('c6', [ext('1002', 'RING'), inb('555', '200', 'ANSWERED')], 30013),
      snap('c6', [ext('1002', 'ANSWER'), inb('555', '200', 'ANSWERED')]),
      snap('c6', [ext('1002', 'BYE'), inb('555', '200', 'BYE')]),
      leg('c6', '555', '1001', 'ANSWERED', 'Inbound', 10),
      leg('c6', '555', '1002', 'ANSWERED', 'Inbound', 20, 't.wav'),
    );
    expect(kinds()).toEqual(['ringing', 'answered', 'transferred', 'transferred', 'ended']);
    vi.advanceTimersByTime(1000);
    expect(events.at(-1)?.cdr).toMatchObject({ result: 'answered', answeredBy: '1002', talkSeconds: 20 });
  });

  it('outbound answered: extension alerting, outbound leg answers', () => {
    feed(
      snap('c7', [ext('1001', 'ALERT')]),
      snap('c7', [ext('1001', 'ALERT'), outb('1001', '+4930123', 'RING')]),
      snap('c7', [ext('1001', 'ANSWERED'), outb('1001', '+4930123', 'ANSWER')]),
      snap('c7', [ext('1001', 'BYE'), outb('1001', '+4930123', 'BYE')]),
      leg('c7', '1001', '+4930123', 'ANSWERED', 'Outbound', 25, 'o.wav'),
    );
    expect(kinds()).toEqual(['ringing', 'answered', 'ended']);
    expect(events[0]).toMatchObject({ direction: 'outbound', external: '+4930123', trunk: 'SIP1' });
    vi.advanceTimersByTime(1000);
    expect(events.at(-1)).toMatchObject({ direction: 'outbound', external: '+4930123', cdr: { result: 'answered', placedBy: '1001', talkSeconds: 25 } });
  });

  it('internal call: two extensions, no trunk, external empty', () => {
    feed(snap('c8', [ext('1001', 'ALERT'), ext('1002', 'RING')]), snap('c8', [ext('1001', 'ANSWERED'), ext('1002', 'ANSWER')]), leg('c8', '1001', '1002', 'ANSWERED', 'Internal', 9));
    expect(events[0]).toMatchObject({ direction: 'internal', external: '' });
    vi.advanceTimersByTime(1000);
    expect(events.at(-1)).toMatchObject({ direction: 'internal', external: '', cdr: { result: 'answered', answeredBy: '1002' } });
  });

  it('statuses compare case-insensitively and ANSWERD (sic) / VOICEMAIL map', () => {
    feed(leg('c9', '555', '1001', 'answerd', 'inbound', 3), leg('c10', '555', '1001', 'VoiceMail', 'INBOUND'));
    vi.advanceTimersByTime(1000);
    expect(events.find((e) => e.pbxCallId === 'c9')?.cdr?.result).toBe('answered');
    expect(events.find((e) => e.pbxCallId === 'c10')?.cdr?.result).toBe('voicemail');
  });

  it('a voicemail call carries the VOICEMAIL leg\'s file (the message), never an IVR prompt\'s', () => {
    feed(
      leg('c12', '555', '6200', 'ANSWERED', 'Inbound', 20, 'ivr-prompt.wav'),
      leg('c12', '555', '1001', 'VOICEMAIL', 'Inbound', 14, 'vm-message.wav'),
    );
    vi.advanceTimersByTime(1000);
    expect(events.find((e) => e.pbxCallId === 'c12')?.cdr).toMatchObject({ result: 'voicemail', recording: { ref: 'vm-message.wav', filename: 'vm-message.wav' } });
  });

  it('msg given as an object is read too; a leg arriving after the settle window is not a second cdr', () => {
    feed(frame(30012, { call_id: 'c11', call_from: '555', call_to: '1001', status: 'ANSWERED', type: 'Inbound', talk_duration: 5, call_duration: 8 }, false));
    vi.advanceTimersByTime(1000);
    feed(leg('c11', '555', '1001', 'ANSWERED', 'Inbound', 5));
    vi.advanceTimersByTime(1000);
    expect(events.filter((e) => e.kind === 'cdr')).toHaveLength(1);
  });

  it('legs of several calls interleaved fold per call', () => {
    feed(leg('a', '1', '1001', 'NO ANSWER', 'Inbound'), leg('b', '2', '1002', 'ANSWERED', 'Inbound', 7), leg('a', '1', '1003', 'ANSWERED', 'Inbound', 4));
    vi.advanceTimersByTime(1000);
    const byId = Object.fromEntries(events.map((e) => [e.pbxCallId, e.cdr]));
    expect(byId['a']).toMatchObject({ result: 'answered', answeredBy: '1003' });
    expect(byId['b']).toMatchObject({ result: 'answered', answeredBy: '1002' });
  });

  it('flush emits pending cdrs at once', () => {
    feed(leg('f', '1', '1001', 'ANSWERED', 'Inbound', 4));
    n.flush();
    expect(kinds()).toEqual(['cdr']);
    expect(n.openCalls()).toBe(0);
  });
});
