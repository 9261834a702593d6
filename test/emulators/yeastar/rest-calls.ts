import { randomBytes } from 'node:crypto';
import { errors, isAnswer, paginate, str, success, type RestAnswer, type RestContext } from './envelope.js';
import { formatCdrTime, formatFileTime, type CdrRow, type PbxState, type Recording } from './state.js';
import type { Switchboard } from './switchboard.js';

/** call/*, cdr/*, recording/* (reference §4). */

const CDR_MAX_PAGE = 10_000;
const DOWNLOAD_LINK_TTL_MS = 30 * 60 * 1000;

/** POST call/dial {caller, callee, dial_permission?, auto_answer?} → call_id (https://help.yeastar.com/en/p-series-appliance-edition/developer-guide/make-a-call.html). */
export function dial(ctx: RestContext, state: PbxState, board: Switchboard): RestAnswer {
  const caller = str(ctx.body.caller);
  const callee = str(ctx.body.callee);
  const missing = [
    ...(caller ? [] : [{ field: 'caller', validation_type: 'required' }]),
    ...(callee ? [] : [{ field: 'callee', validation_type: 'required' }]),
  ];
  if (!caller || !callee) return errors.parameter(missing);
  const autoAnswer = ctx.body.auto_answer;
  if (autoAnswer !== undefined && autoAnswer !== 'yes' && autoAnswer !== 'no') return errors.parameter([{ field: 'auto_answer', validation_type: 'invalid' }]);
  // dial_permission names the extension whose outbound permission is used; an unknown one is refused here (emulator choice).
  const permission = str(ctx.body.dial_permission);
  if (permission !== undefined && permission !== '' && !state.isExtension(permission)) {
    return errors.parameter([{ field: 'dial_permission', validation_type: 'invalid' }]);
  }
  return success({ call_id: board.dial(caller, callee, { autoAnswer: autoAnswer === 'yes' }) });
}

/** GET call/query[?call_id=] — no `data` when nothing is in progress (milaportal samples/call-query.json). */
export function queryCalls(ctx: RestContext, board: Switchboard): RestAnswer {
  const rows = board.query(ctx.query.get('call_id') ?? undefined);
  return rows.length > 0 ? success({ data: rows }) : success();
}

/** POST call/hangup {channel_id} (https://help.yeastar.com/en/p-series-appliance-edition/developer-guide/hang-up-a-call.html). */
export function hangup(ctx: RestContext, board: Switchboard): RestAnswer {
  const channel = str(ctx.body.channel_id);
  if (!channel) return errors.parameter([{ field: 'channel_id', validation_type: 'required' }]);
  const callId = board.hangupChannel(channel);
  return callId ? success({ call_id: callId }) : errors.notFound();
}

/** start_time / end_time: Unix seconds or the PBX display format "MM/DD/YYYY HH:mm:ss" (Search Specific CDR page). */
function parseTime(raw: string | null): number | undefined | 'invalid' {
  if (raw === null || raw === '') return undefined;
  if (/^\d+$/.test(raw)) return Number(raw);
  const m = /^(\d{2})\/(\d{2})\/(\d{4}) (\d{2}):(\d{2}):(\d{2})$/.exec(raw);
  if (!m) return 'invalid';
  const [, mm, dd, yyyy, hh, mi, ss] = m;
  return Math.floor(Date.UTC(Number(yyyy), Number(mm) - 1, Number(dd), Number(hh), Number(mi), Number(ss)) / 1000);
}

const CDR_SORT: (keyof CdrRow)[] = ['uid', 'timestamp', 'duration', 'ring_duration', 'talk_duration', 'disposition', 'src_trunk', 'dst_trunk', 'call_type', 'did_number', 'dod_number', 'src_addr'];

/** Newest first unless sort_by/order_by say otherwise; sorting on "id"/"time" means row order. */
function sortCdr(rows: CdrRow[], query: URLSearchParams): CdrRow[] | RestAnswer {
  const sortBy = query.get('sort_by') ?? 'id';
  const order = query.get('order_by') ?? 'desc';
  if (order !== 'asc' && order !== 'desc') return errors.parameter([{ field: 'order_by', validation_type: 'invalid' }]);
  const dir = order === 'asc' ? 1 : -1;
  const indexed = rows.map((row, index) => ({ row, index }));
  if (sortBy === 'id' || sortBy === 'time') return indexed.sort((a, b) => (a.index - b.index) * dir).map((x) => x.row);
  if (!(CDR_SORT as string[]).includes(sortBy)) return errors.parameter([{ field: 'sort_by', validation_type: 'invalid' }]);
  const key = sortBy as keyof CdrRow;
  return indexed
    .sort((a, b) => (String(a.row[key] ?? '').localeCompare(String(b.row[key] ?? ''), undefined, { numeric: true }) || a.index - b.index) * dir)
    .map((x) => x.row);
}

/**
 * The PBX leaves zero or empty values of these fields out of a row (no talk_duration on an unanswered leg, no record_file
 * without a recording, no src_trunk on an outbound leg: milaportal samples cdr-list.json, cdr-search.json); clients must
 * treat a missing field as 0 / "".
 */
const OMITTED_WHEN_EMPTY: (keyof CdrRow)[] = ['src_trunk', 'dst_trunk', 'duration', 'ring_duration', 'talk_duration', 'did_number', 'dod_number', 'record_file', 'src_addr'];

function cdrWire(row: CdrRow, withId: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) {
    if (key === 'id' && !withId) continue;
    if ((OMITTED_WHEN_EMPTY as string[]).includes(key) && (value === 0 || value === '' || value === undefined)) continue;
    out[key] = value;
  }
  return out;
}

function cdrPage(rows: CdrRow[], query: URLSearchParams, withId: boolean): RestAnswer {
  const sorted = sortCdr(rows, query);
  if (isAnswer(sorted)) return sorted;
  const paged = paginate(sorted, query, CDR_MAX_PAGE);
  if (isAnswer(paged)) return paged;
  return success({ total_number: paged.total, data: paged.page.map((r) => cdrWire(r, withId)) });
}

/** GET cdr/list (https://help.yeastar.com/en/p-series/developer-guide/query-cdr-list.html). */
export function listCdr(ctx: RestContext, state: PbxState): RestAnswer {
  return cdrPage(state.cdr, ctx.query, true);
}

/** GET cdr/search (https://help.yeastar.com/en/p-series-cloud-edition/developer-guide/search-specific-cdr.html). */
export function searchCdr(ctx: RestContext, state: PbxState): RestAnswer {
  const q = ctx.query;
  const start = parseTime(q.get('start_time'));
  const end = parseTime(q.get('end_time'));
  if (start === 'invalid') return errors.parameter([{ field: 'start_time', validation_type: 'invalid' }]);
  if (end === 'invalid') return errors.parameter([{ field: 'end_time', validation_type: 'invalid' }]);
  const status = q.get('status');
  const statuses = ['ANSWERED', 'NO ANSWER', 'BUSY', 'FAILED', 'VOICEMAIL'];
  if (status && !statuses.includes(status)) return errors.parameter([{ field: 'status', validation_type: 'invalid' }]);
  const from = q.get('call_from');
  const to = q.get('call_to');
  const did = q.get('did');
  const rows = state.cdr.filter((r) =>
    (start === undefined || r.timestamp >= start) &&
    (end === undefined || r.timestamp <= end) &&
    (!status || r.disposition === status) &&
    (!from || r.call_from_number === from || r.call_from.includes(from)) &&
    (!to || r.call_to_number === to || r.call_to.includes(to)) &&
    // did is "{did_number}:{trunk_name}" per the Search Specific CDR page.
    (!did || `${r.did_number}:${r.src_trunk}` === did));
  return cdrPage(rows, q, false);
}

/** recording/list row (https://help.yeastar.com/en/p-series-cloud-edition/developer-guide/query-recording-list.html). */
function recordingRow(r: Recording): Record<string, unknown> {
  return {
    id: r.id, time: formatCdrTime(r.timestamp * 1000), uid: r.uid, call_from: r.call_from, call_to: r.call_to,
    duration: r.duration, size: r.size, call_type: r.call_type, file: r.file,
  };
}

function recordingPage(rows: Recording[], query: URLSearchParams): RestAnswer {
  const sortBy = query.get('sort_by') ?? 'id';
  const order = query.get('order_by') ?? 'desc';
  if (sortBy !== 'id' && sortBy !== 'time') return errors.parameter([{ field: 'sort_by', validation_type: 'invalid' }]);
  if (order !== 'asc' && order !== 'desc') return errors.parameter([{ field: 'order_by', validation_type: 'invalid' }]);
  const sorted = [...rows].sort((a, b) => (order === 'asc' ? a.id - b.id : b.id - a.id));
  const paged = paginate(sorted, query, CDR_MAX_PAGE);
  if (isAnswer(paged)) return paged;
  return success({ total_number: paged.total, data: paged.page.map(recordingRow) });
}

export function listRecordings(ctx: RestContext, state: PbxState): RestAnswer {
  return recordingPage(state.recordings, ctx.query);
}

/** GET recording/search (https://help.yeastar.com/en/p-series-software-edition/developer-guide/search-specific-recording.html). */
export function searchRecordings(ctx: RestContext, state: PbxState): RestAnswer {
  const q = ctx.query;
  const start = parseTime(q.get('start_time'));
  const end = parseTime(q.get('end_time'));
  if (start === 'invalid' || end === 'invalid') return errors.parameter([{ field: 'start_time', validation_type: 'invalid' }]);
  const ids = q.get('ids')?.split(',').map(Number);
  const caller = q.get('caller');
  const callee = q.get('callee');
  const rows = state.recordings.filter((r) =>
    (start === undefined || r.timestamp >= start) && (end === undefined || r.timestamp <= end) &&
    (!ids || ids.includes(r.id)) && (!caller || r.call_from.includes(caller)) && (!callee || r.call_to.includes(callee)));
  return recordingPage(rows, q);
}

export class DownloadLinks {
  private readonly links = new Map<string, { file: string; expiresAt: number }>();

  constructor(private readonly state: PbxState) {}

  create(file: string): string {
    // Shape of a real link: "/api/downloadattachment/P570-Recording-37.20.0.53-download-20250822182917-Ib9fcemxhk4X1RRj.mp3" (30033 page).
    const name = `Recording-37.12.0.33-download-${formatFileTime(this.state.now())}-${randomBytes(12).toString('base64url').slice(0, 16)}.wav`;
    this.links.set(name, { file, expiresAt: this.state.now() + DOWNLOAD_LINK_TTL_MS });
    return `/api/download/${name}`;
  }

  resolve(name: string): string | undefined {
    const link = this.links.get(name);
    if (!link || link.expiresAt <= this.state.now()) return undefined;
    return link.file;
  }
}

/**
 * GET recording/download?id= or ?file= → download_resource_url valid 30 min
 * (https://help.yeastar.com/en/p-series-cloud-edition/developer-guide/download-a-recording-file.html).
 */
export function downloadRecording(ctx: RestContext, state: PbxState, links: DownloadLinks): RestAnswer {
  const id = ctx.query.get('id');
  const file = ctx.query.get('file');
  if (!id && !file) return errors.parameter([{ field: 'id', validation_type: 'required' }]);
  const rec = state.recordings.find((r) => (id ? r.id === Number(id) : r.file === file));
  if (!rec) return errors.notFound();
  return success({ file: rec.file, download_resource_url: links.create(rec.file) });
}
