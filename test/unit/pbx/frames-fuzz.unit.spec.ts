import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CallEvent } from '../../../server/pbx/adapter.js';
import { createYeastarAdapter } from '../../../server/pbx/yeastar/adapter.js';
import { parseEventFrame } from '../../../server/pbx/yeastar/frames.js';
import { createCallNormalizer } from '../../../server/pbx/yeastar/normalize.js';
import { classifySocketMessage } from '../../../server/pbx/yeastar/subscriber.js';
import { fakeTransport, tokenReply } from './fake-transport.js';

/**
 * ≥ 10,000 malformed or mutated frames through the socket's message sorter, the frame parser and the
 * normalizer (and the adapter's push path): nothing may throw and no promise may be left rejected.
 */

const SEEDS = [
  '{"type":30011,"sn":"S","msg":"{\\"call_id\\":\\"1.1\\",\\"members\\":[{\\"extension\\":{\\"number\\":\\"700\\",\\"member_status\\":\\"RING\\",\\"call_path\\":\\"\\"}},{\\"inbound\\":{\\"from\\":\\"081\\",\\"to\\":\\"278\\",\\"trunk_name\\":\\"T\\",\\"member_status\\":\\"ALERT\\",\\"call_path\\":\\"\\"}}]}"}',
  '{"type":30012,"sn":"S","msg":"{\\"call_id\\":\\"1.1\\",\\"call_from\\":\\"081\\",\\"call_to\\":\\"700\\",\\"call_duration\\":14,\\"talk_duration\\":0,\\"status\\":\\"NO ANSWER\\",\\"type\\":\\"Inbound\\",\\"recording\\":\\"\\"}"}',
  '{"type":30015,"sn":"S","msg":"{\\"call_id\\":\\"1.1\\",\\"reason\\":\\"487 Request Terminated\\",\\"members\\":null}"}',
  '{"type":30013,"sn":"S","msg":{"call_id":"1.2","members":[{"extension":{"number":"1002","member_status":"RING"}},{"outbound":{"from":"1001","to":"555","member_status":"ANSWER"}}]}}',
  '{"type":30016,"sn":"S","msg":"{\\"call_id\\":\\"1.3\\",\\"members\\":[{\\"inbound\\":{\\"from\\":\\"1\\",\\"to\\":\\"2\\",\\"member_status\\":\\"ALERT\\"}}]}"}',
  'heartbeat response',
  '{"errcode":0,"errmsg":"SUCCESS"}',
];

const mutate = (s: string, ops: { at: number; kind: number; ch: string }[]) => {
  let out = s;
  for (const op of ops) {
    const i = out.length === 0 ? 0 : op.at % out.length;
    if (op.kind === 0) out = out.slice(0, i) + out.slice(i + 1);
    else if (op.kind === 1) out = out.slice(0, i) + op.ch + out.slice(i);
    else if (op.kind === 2) out = out.slice(0, i) + op.ch + out.slice(i + 1);
    else out = out.slice(0, i);
  }
  return out;
};

const anyJson = fc.jsonValue({ maxDepth: 4 });
const statusWord = fc.constantFrom('RING', 'ALERT', 'ANSWER', 'ANSWERED', 'BYE', 'HOLD', 'EARLYMEDIA', '', 'answer', 'NO ANSWER', 'BUSY', 'FAILED', 'VOICEMAIL', 'ANSWERD');
const party = fc.record({ number: fc.oneof(fc.string(), fc.integer(), anyJson), from: fc.oneof(fc.string(), anyJson), to: fc.oneof(fc.string(), anyJson), member_status: fc.oneof(statusWord, anyJson), call_path: fc.oneof(fc.string(), anyJson) }, { requiredKeys: [] });
const structured = fc.record({
  type: fc.oneof(fc.constantFrom(30011, 30012, 30013, 30015, 30016, 30008, '30011', -1), anyJson),
  sn: fc.oneof(fc.string(), anyJson),
  msg: fc.oneof(
    fc.record({
      call_id: fc.oneof(fc.constantFrom('1.1', '1.2', '1.3', ''), fc.integer(), anyJson),
      members: fc.oneof(fc.array(fc.oneof(fc.record({ extension: party, inbound: party, outbound: party }, { requiredKeys: [] }), anyJson), { maxLength: 5 }), anyJson),
      reason: fc.oneof(fc.string(), anyJson),
      status: fc.oneof(statusWord, anyJson), type: fc.oneof(fc.constantFrom('Inbound', 'outbound', 'INTERNAL'), anyJson),
      call_from: fc.oneof(fc.string(), anyJson), call_to: fc.oneof(fc.string(), anyJson),
      talk_duration: fc.oneof(fc.integer(), fc.string(), anyJson), call_duration: fc.oneof(fc.integer(), fc.double(), fc.string()),
      recording: fc.oneof(fc.string(), anyJson),
    }, { requiredKeys: [] }).chain((m) => fc.oneof(fc.constant(m as unknown), fc.constant(JSON.stringify(m) as unknown))),
    anyJson,
  ),
}, { requiredKeys: [] }).map((o) => JSON.stringify(o));

const frameText = fc.oneof(
  structured,
  fc.tuple(fc.constantFrom(...SEEDS), fc.array(fc.record({ at: fc.nat(), kind: fc.nat({ max: 3 }), ch: fc.constantFrom('"', '{', '}', '[', ']', ',', ':', '\\', '0', 'x', ' ', '\u0000', '\u00ff') }), { minLength: 1, maxLength: 6 }))
    .map(([s, ops]) => mutate(s, ops)),
  fc.string({ maxLength: 200 }),
  anyJson.map((v) => JSON.stringify(v) ?? ''),
);

describe('frame fuzz', () => {
  const rejections: unknown[] = [];
  const onRejection = (r: unknown) => rejections.push(r);
  beforeAll(() => {
    process.on('unhandledRejection', onRejection);
  });
  afterAll(() => {
    process.off('unhandledRejection', onRejection);
  });

  it('12,000 malformed or mutated frames: no throw, no unhandled rejection, events stay well-formed', async () => {
    vi.useFakeTimers();
    const events: CallEvent[] = [];
    const normalizer = createCallNormalizer({ portal: 'p', settleMs: 5, emit: (e) => events.push(e) });
    const transport = fakeTransport({ '/openapi/v1.0/get_token': () => tokenReply(1) });
    const adapter = createYeastarAdapter({
      portal: 'p', log: pino({ level: 'silent' }), transport, timings: { settleMs: 5 },
      settings: { baseUrl: 'http://pbx.invalid', clientId: 'i', clientSecret: 's', events: 'webhook', webhookSecret: 'w' },
    });
    adapter.onCallEvent((e) => events.push(e));
    let count = 0;
    fc.assert(
      fc.property(frameText, (text) => {
        count += 1;
        const sorted = classifySocketMessage(text);
        if (sorted.kind === 'event') {
          const parsed = parseEventFrame(sorted.raw);
          if (parsed.ok) normalizer.accept(parsed.frame);
        }
        const direct = parseEventFrame(text);
        if (direct.ok) normalizer.accept(direct.frame);
        let asObject: unknown;
        try {
          asObject = JSON.parse(text);
        } catch {
          asObject = text;
        }
        adapter.acceptPushedEvent(asObject);
        vi.advanceTimersByTime(3);
      }),
      { numRuns: 12_000, seed: 20261126 },
    );
    vi.advanceTimersByTime(100);
    normalizer.flush();
    vi.useRealTimers();
    await adapter.disconnect();
    await new Promise((r) => setTimeout(r, 20));
    expect(count).toBeGreaterThanOrEqual(10_000);
    expect(rejections).toEqual([]);
    for (const e of events) {
      expect(typeof e.pbxCallId).toBe('string');
      expect(e.pbxCallId.length).toBeGreaterThan(0);
      expect(['inbound', 'outbound', 'internal']).toContain(e.direction);
      expect(typeof e.external).toBe('string');
      for (const x of e.extensions) expect(typeof x.number).toBe('string');
      if (e.cdr) {
        expect(Number.isFinite(e.cdr.talkSeconds)).toBe(true);
        expect(Number.isFinite(e.cdr.callSeconds)).toBe(true);
      }
    }
    expect(events.length).toBeGreaterThan(0);
  }, 60_000);
});
