import type { CallDetail, CallDirection, CallResult } from '../adapter.js';

/**
 * One leg of a call's CDR, whether heard live (30012) or read back from `cdr/search`.
 * Yeastar writes one record per leg (IVR → queue → agent), all sharing the call's `call_id`, and sends no
 * "last leg" marker (reference §3.5, §4.6): the legs are folded here into one call.
 */
export interface CdrLeg {
  callId: string;
  from: string;
  to: string;
  /** Inbound / Outbound / Internal as the PBX wrote it (any case). */
  type: string;
  /** ANSWERED / ANSWERD / NO ANSWER / BUSY / FAILED / VOICEMAIL as the PBX wrote it (any case). */
  status: string;
  callSeconds: number;
  talkSeconds: number;
  srcTrunk: string;
  dstTrunk: string;
  did: string;
  recording: string;
  /** Epoch ms the leg started, when the PBX gave an unambiguous time (CDR `timestamp`). */
  startedAt?: number;
}

export interface FoldedCall {
  callId: string;
  direction: CallDirection;
  external: string;
  did?: string;
  trunk?: string;
  via?: string;
  /** Extension legs of the call, in order (who rang / who placed it). */
  extensions: string[];
  detail: CallDetail;
}

export interface FoldOptions {
  /** True when the number is an extension of this PBX (from extension/list and the live events). */
  isExtension: (n: string) => boolean;
  /** False when nothing is known about the PBX's extensions: then the last leg is taken as the agent leg. */
  extensionsKnown: boolean;
}

/**
 * Status words, compared case-insensitively: the docs spell `ANSWERD` (sic) and lower-case types, while
 * captures show `ANSWERED` / `Inbound` (reference §3.5). ABANDONED only exists in CDR v2 / UI: a missed call.
 */
export function mapCdrStatus(status: string): CallResult {
  const s = status.trim().toUpperCase().replace(/[_\s]+/g, ' ');
  if (s === 'ANSWERED' || s === 'ANSWERD' || s === 'ANSWER') return 'answered';
  if (s === 'BUSY') return 'busy';
  if (s === 'FAILED') return 'failed';
  if (s === 'VOICEMAIL') return 'voicemail';
  return 'missed';
}

const isAnswered = (leg: CdrLeg) => mapCdrStatus(leg.status) === 'answered';
const typeOf = (leg: CdrLeg) => leg.type.trim().toLowerCase();
const nonEmpty = (v: string | undefined): string | undefined => (v !== undefined && v !== '' ? v : undefined);

function directionOf(legs: CdrLeg[]): CallDirection {
  if (legs.some((l) => typeOf(l) === 'inbound')) return 'inbound';
  if (legs.some((l) => typeOf(l) === 'outbound')) return 'outbound';
  return 'internal';
}

/** When no agent answered: the outcome the caller met at the agents, most telling first. */
function unansweredResult(legs: CdrLeg[]): CallResult {
  const results = legs.map((l) => mapCdrStatus(l.status));
  if (results.includes('voicemail')) return 'voicemail';
  if (results.includes('busy')) return 'busy';
  if (results.length > 0 && results.every((r) => r === 'failed')) return 'failed';
  return 'missed';
}

function callSecondsOf(legs: CdrLeg[]): number {
  const longest = Math.max(0, ...legs.map((l) => l.callSeconds));
  const starts = legs.filter((l) => l.startedAt !== undefined);
  if (starts.length < 2) return longest;
  const first = Math.min(...starts.map((l) => l.startedAt ?? 0));
  const last = Math.max(...starts.map((l) => (l.startedAt ?? 0) + l.callSeconds * 1000));
  return Math.max(longest, Math.round((last - first) / 1000));
}

function startedAtOf(legs: CdrLeg[]): number | undefined {
  const starts = legs.map((l) => l.startedAt).filter((v): v is number => v !== undefined);
  return starts.length > 0 ? Math.min(...starts) : undefined;
}

function recordingOf(preferred: CdrLeg | undefined, legs: CdrLeg[]): CallDetail['recording'] {
  const file = nonEmpty(preferred?.recording) ?? [...legs].reverse().map((l) => nonEmpty(l.recording)).find((r) => r !== undefined);
  if (file === undefined) return undefined;
  const base = file.split('/').pop() ?? file;
  return { ref: file, filename: base };
}

function unique(values: (string | undefined)[]): string[] {
  return [...new Set(values.filter((v): v is string => v !== undefined && v !== ''))];
}

function foldInbound(callId: string, legs: CdrLeg[], opts: FoldOptions): FoldedCall {
  const first = legs.find((l) => typeOf(l) === 'inbound') ?? legs[0];
  let agentLegs = legs.filter((l) => opts.isExtension(l.to));
  if (agentLegs.length === 0 && !opts.extensionsKnown) agentLegs = legs.slice(-1);
  // Credited: the last agent leg that answered (after a transfer, the agent who ended up with the caller);
  // IVR legs report ANSWERED too, which is why only extension legs count (pitfalls: IVR → queue → agent).
  const credited = [...agentLegs].reverse().find(isAnswered);
  const result: CallResult = credited ? 'answered' : unansweredResult(agentLegs);
  // A voicemail's file is the caller's message on the VOICEMAIL leg (30012 `recording` / CDR `record_file`); only
  // that leg's file is taken, never an IVR prompt's.
  const voicemail = result === 'voicemail' ? [...legs].reverse().find((l) => mapCdrStatus(l.status) === 'voicemail') : undefined;
  const via = unique(legs.filter((l) => !agentLegs.includes(l)).map((l) => l.to));
  return {
    callId,
    direction: 'inbound',
    external: first?.from ?? '',
    did: nonEmpty(legs.map((l) => nonEmpty(l.did)).find((d) => d !== undefined)),
    trunk: nonEmpty(legs.map((l) => nonEmpty(l.srcTrunk)).find((t) => t !== undefined)),
    via: via.length > 0 ? via.join(' > ') : undefined,
    extensions: unique(agentLegs.map((l) => l.to)),
    detail: {
      result,
      talkSeconds: credited?.talkSeconds ?? 0,
      callSeconds: callSecondsOf(legs),
      answeredBy: credited?.to,
      recording: voicemail ? recordingOf(voicemail, [voicemail]) : recordingOf(credited, legs),
      startedAt: startedAtOf(legs),
    },
  };
}

function foldOutbound(callId: string, legs: CdrLeg[], opts: FoldOptions): FoldedCall {
  const outLegs = legs.filter((l) => typeOf(l) === 'outbound');
  const answered = [...outLegs].reverse().find(isAnswered);
  const last = answered ?? outLegs[outLegs.length - 1];
  const placedBy = legs.map((l) => l.from).find((f) => opts.isExtension(f)) ?? outLegs[0]?.from;
  const result: CallResult = answered ? 'answered' : last ? mapCdrStatus(last.status) : 'failed';
  return {
    callId,
    direction: 'outbound',
    external: last?.to ?? '',
    trunk: nonEmpty(outLegs.map((l) => nonEmpty(l.dstTrunk)).find((t) => t !== undefined)),
    extensions: unique([placedBy]),
    detail: {
      // Unanswered outbound calls are "missed" by the callee: reported as such (NO ANSWER → missed).
      result,
      talkSeconds: answered ? Math.max(...outLegs.filter(isAnswered).map((l) => l.talkSeconds)) : 0,
      callSeconds: callSecondsOf(legs),
      answeredBy: answered ? placedBy : undefined,
      placedBy,
      recording: recordingOf(answered, legs),
      startedAt: startedAtOf(legs),
    },
  };
}

function foldInternal(callId: string, legs: CdrLeg[]): FoldedCall {
  const answered = [...legs].reverse().find(isAnswered);
  const last = legs[legs.length - 1];
  return {
    callId,
    direction: 'internal',
    external: '',
    extensions: unique(legs.flatMap((l) => [l.from, l.to])),
    detail: {
      result: answered ? 'answered' : last ? mapCdrStatus(last.status) : 'missed',
      talkSeconds: answered?.talkSeconds ?? 0,
      callSeconds: callSecondsOf(legs),
      answeredBy: answered?.to,
      placedBy: legs[0]?.from,
      recording: recordingOf(answered, legs),
      startedAt: startedAtOf(legs),
    },
  };
}

/** Folds every CDR leg of one call into the call's outcome, credited to the agent leg, never to an IVR or queue. */
export function foldCdrLegs(callId: string, legs: CdrLeg[], opts: FoldOptions): FoldedCall {
  const ordered = legs
    .map((leg, i) => ({ leg, i }))
    .sort((a, b) => (a.leg.startedAt ?? 0) - (b.leg.startedAt ?? 0) || a.i - b.i)
    .map((x) => x.leg);
  const direction = directionOf(ordered);
  if (direction === 'inbound') return foldInbound(callId, ordered, opts);
  if (direction === 'outbound') return foldOutbound(callId, ordered, opts);
  return foldInternal(callId, ordered);
}
