import { z } from 'zod';

/**
 * Yeastar event frames, validated at the edge. Every event arrives as `{type, sn, msg}` where `msg` is
 * usually a JSON *string* that must be parsed a second time; some doc pages show it as an object, so both
 * are accepted (https://help.yeastar.com/en/p-series-software-edition/developer-guide/api-events-overview.html).
 * Fields are read leniently (numbers where strings are expected are turned into strings; anything else
 * becomes undefined) because a malformed field must cost one field, not the whole event.
 */

const text = z.union([z.string(), z.number().transform(String)]).optional().catch(undefined);
const count = z.union([z.number(), z.string().regex(/^\d+(\.\d+)?$/).transform(Number)]).optional().catch(undefined);

const party = z.object({
  number: text,
  from: text,
  to: text,
  trunk_name: text,
  channel_id: text,
  member_status: text,
  call_path: text,
});

const member = z.object({
  extension: party.optional().catch(undefined),
  inbound: party.optional().catch(undefined),
  outbound: party.optional().catch(undefined),
});

/** 30011, 30013, 30014, 30015, 30016: `{call_id, members[]}` (30015 adds `reason`; members may be null). */
const callStateMsg = z.object({
  call_id: z.union([z.string().min(1), z.number().transform(String)]),
  reason: text,
  members: z.array(member.nullable().catch(null)).nullable().optional().catch(null),
});

/** 30012 New CDR, once per leg (https://help.yeastar.com/en/p-series-software-edition/developer-guide/event-new-cdr.html). */
const cdrMsg = z.object({
  call_id: z.union([z.string().min(1), z.number().transform(String)]),
  time_start: text,
  call_from: text,
  call_to: text,
  call_duration: count,
  talk_duration: count,
  src_trunk_name: text,
  dst_trunk_name: text,
  status: text,
  type: text,
  recording: text,
  did_number: text,
});

export type MemberParty = z.infer<typeof party>;
export type CallMember = z.infer<typeof member>;
export type CallStateMsg = z.infer<typeof callStateMsg>;
export type CdrMsg = z.infer<typeof cdrMsg>;

export const CALL_EVENT_TOPICS = [30011, 30012, 30013, 30015, 30016] as const;

export type EventFrame =
  | { type: 30011 | 30013 | 30015 | 30016; sn: string; msg: CallStateMsg }
  | { type: 30012; sn: string; msg: CdrMsg }
  | { type: 'other'; eventType: number; sn: string };

export type FrameParseResult = { ok: true; frame: EventFrame } | { ok: false; reason: string };

const envelope = z.object({
  type: z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]),
  sn: text,
  msg: z.unknown(),
});

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

/** Turns a raw frame (text, buffer or already-parsed object) into a typed event, or a reason it was skipped. */
export function parseEventFrame(raw: unknown): FrameParseResult {
  const value = typeof raw === 'string' ? parseJson(raw) : Buffer.isBuffer(raw) ? parseJson(raw.toString('utf8')) : raw;
  if (value === undefined) return { ok: false, reason: 'not JSON' };
  const env = envelope.safeParse(value);
  if (!env.success) return { ok: false, reason: 'no event type' };
  const sn = env.data.sn ?? '';
  const type = env.data.type;
  if (type !== 30011 && type !== 30012 && type !== 30013 && type !== 30015 && type !== 30016) {
    return { ok: true, frame: { type: 'other', eventType: type, sn } };
  }
  const rawMsg = env.data.msg;
  const msg = typeof rawMsg === 'string' ? parseJson(rawMsg) : rawMsg;
  if (msg === undefined || msg === null || typeof msg !== 'object') return { ok: false, reason: `event ${type}: msg is not a JSON object` };
  if (type === 30012) {
    const cdr = cdrMsg.safeParse(msg);
    return cdr.success ? { ok: true, frame: { type, sn, msg: cdr.data } } : { ok: false, reason: 'event 30012: no call_id' };
  }
  const state = callStateMsg.safeParse(msg);
  return state.success ? { ok: true, frame: { type, sn, msg: state.data } } : { ok: false, reason: `event ${type}: no call_id` };
}
