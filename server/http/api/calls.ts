/**
 * Call history for the Vue client (timeline tab, Activity page) and recording playback. Documented in docs/api-calls.md.
 * The frame-auth middleware runs before this router: every read is scoped to the caller's own portal, so another
 * portal's call id is simply not found. Inside the portal an employee sees only the calls they may see
 * (calls/call-access.ts: their own, and those on CRM records Bitrix24 lets them read); any other call is answered
 * exactly like a call that does not exist (404), so its existence is not revealed.
 */
import { Router, type Request, type Response } from 'express';
import { Transform, pipeline, type TransformCallback } from 'node:stream';
import { z } from 'zod';
import { AppError, badRequest, notFound } from '../../errors.js';
import type { CallAccess, CallViewer } from '../../calls/call-access.js';
import type { Outbox } from '../../outbox/types.js';
import type { PbxAdapter, RecordingDownload } from '../../pbx/adapter.js';
import type { CallRecord } from '../../store/records.js';
import type { BindingsRepository, CallsRepository } from '../../store/types.js';
import { locals } from '../context.js';
import { frameUserAuth } from '../frame-token.js';
import type { ActivityResponse, CallRow, CallsPage } from '../../../contract/api-shapes.js';
import { sendJsonIfChanged } from '../conditional.js';

export interface CallsApiDeps {
  calls: CallsRepository;
  bindings: BindingsRepository;
  adapterFor(portal: string): PbxAdapter | undefined;
  /** Who may see which call (calls/call-access.ts). */
  access: Pick<CallAccess, 'visible'>;
  /** Parked Bitrix24 writes for the Activity page; omitted: none shown. */
  outbox?: Pick<Outbox, 'failed'>;
  /** Display name of a Bitrix24 user when known (a cached user list); omitted: names are null. */
  userName?(portal: string, userId: number): string | null;
}

const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 100;

const pageQuery = {
  before: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(MAX_LIMIT).default(DEFAULT_LIMIT),
};

const listQuery = z.object({
  entityType: z.enum(['CONTACT', 'LEAD', 'COMPANY', 'DEAL']).optional(),
  entityId: z.coerce.number().int().positive().optional(),
  /** The call card: the calls with this outside number (as the call was registered, E.164), whoever's record it is. */
  phone: z.string().trim().regex(/^\+?\d{3,20}$/, 'a phone number: digits, an optional leading +').optional(),
  ...pageQuery,
}).refine((q) => (q.entityType === undefined) === (q.entityId === undefined), {
  message: 'entityType and entityId go together',
}).refine((q) => q.phone === undefined || q.entityType === undefined, { message: 'phone or a CRM record, not both' });

/** How many calls of one number the card's list looks at (the store keeps them by number, newest first). */
const PHONE_SCAN = 500;

const recentQuery = z.object(pageQuery);

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw badRequest('invalid query parameters', {
      issues: result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    });
  }
  return result.data;
}

export const recordingUrl = (pbxCallId: string): string => `/api/calls/${encodeURIComponent(pbxCallId)}/recording`;

export function toCallRow(record: CallRecord, deps: Pick<CallsApiDeps, 'bindings' | 'userName'>): CallRow {
  const person = (extension: string) => {
    const userId = deps.bindings.userForExtension(record.portal, extension) ?? null;
    return { extension, userId, userName: userId !== null && deps.userName ? deps.userName(record.portal, userId) : null };
  };
  return {
    id: record.pbxCallId,
    direction: record.direction,
    origin: record.origin,
    external: record.external,
    did: record.did ?? null,
    via: record.via ?? null,
    startedAt: record.startedAt,
    endedAt: record.endedAt ?? null,
    talkSeconds: record.talkSeconds,
    result: record.result ?? null,
    rang: record.extensions.map(person),
    answeredBy: record.answeredBy ? person(record.answeredBy) : null,
    crm: record.crm ? { entityType: record.crm.entityType, entityId: record.crm.entityId } : null,
    answeredAt: record.answeredAt ?? null,
    b24CallId: record.b24CallId ?? null,
    recording: {
      available: record.recording !== undefined,
      state: record.recordingState,
      url: record.recording ? recordingUrl(record.pbxCallId) : null,
    },
    live: record.phase === 'live',
  };
}

type Fetch = (opts: { limit: number; before?: number }) => CallRecord[];

/** How many stored calls one page request may look at for a non-admin before answering what it found so far. */
const MAX_SCAN = 500;
/** Slice read from the store at a time for a non-admin: each slice's unknown records cost one Bitrix24 batch. */
const VIEWER_SLICE = 50;

/**
 * One page of visible calls. Ignored calls (internal, unbound-only) are stored too, and a non-admin does not see
 * every call, so the store is read in slices until the page is full or the history ends; `nextBefore` is the
 * startedAt of the last row shown. The work is bounded: after MAX_SCAN stored calls the page is answered as it is,
 * with `nextBefore` where the scan stopped (the client's "more" goes on from there).
 */
async function page(fetch: Fetch, limit: number, before: number | undefined, viewer: CallViewer, deps: CallsApiDeps): Promise<CallsPage> {
  const rows: CallRow[] = [];
  const slice = viewer.isAdmin ? limit : Math.max(limit, VIEWER_SLICE);
  let cursor = before;
  let scanned = 0;
  for (;;) {
    const batch = fetch({ limit: slice, ...(cursor !== undefined ? { before: cursor } : {}) });
    const candidates = batch.filter((record) => record.phase !== 'ignored');
    const shown = new Set(await deps.access.visible(viewer, candidates));
    for (const record of batch) {
      if (!shown.has(record)) continue;
      rows.push(toCallRow(record, deps));
      if (rows.length === limit) return { calls: rows, nextBefore: record.startedAt };
    }
    scanned += batch.length;
    const last = batch[batch.length - 1];
    if (batch.length < slice || !last || last.startedAt === cursor) return { calls: rows, nextBefore: null };
    cursor = last.startedAt;
    if (scanned >= MAX_SCAN) return { calls: rows, nextBefore: cursor };
  }
}

/** `bytes=a-b` / `bytes=a-` / `bytes=-n` against a known size; undefined: serve the whole file; null: unsatisfiable. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return undefined;
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return undefined;
  let start: number;
  let end: number;
  if (a === '') {
    start = Math.max(0, size - Number(b));
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (start > end || start >= size) return null;
  return { start, end };
}

/** Passes through only bytes [start, end] of the stream. */
function slice(start: number, end: number): Transform {
  let offset = 0;
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      const from = Math.max(start - offset, 0);
      const to = Math.min(end + 1 - offset, chunk.length);
      offset += chunk.length;
      done(null, from < to ? chunk.subarray(from, to) : undefined);
    },
  });
}

export function callsApiRouter(deps: CallsApiDeps): Router {
  const router = Router();

  /** The stored call `id` when it exists, is not ignored, and the viewer may see it; else 404 (existence not revealed). */
  async function visibleCall(viewer: CallViewer, id: string, missing: string): Promise<CallRecord> {
    const record = deps.calls.get(viewer.portal.memberId, id);
    if (!record || record.phase === 'ignored') throw notFound(missing);
    if ((await deps.access.visible(viewer, [record])).length === 0) throw notFound(missing);
    return record;
  }

  router.get('/calls', async (req: Request, res: Response) => {
    const q = parse(listQuery, req.query);
    const viewer = frameUserAuth(req, res);
    const portal = viewer.portal.memberId;
    const { entityType, entityId, phone } = q;
    const fetch: Fetch = phone !== undefined
      ? ({ limit, before }) => deps.calls.listByPhone(portal, phone, { limit: PHONE_SCAN })
        .filter((record) => before === undefined || record.startedAt < before).slice(0, limit)
      : entityType !== undefined && entityId !== undefined
        ? (opts) => deps.calls.listByEntity(portal, entityType, entityId, opts)
        : (opts) => deps.calls.listRecent(portal, opts);
    // Polled by open timeline tabs and call cards (client/live.ts): 304 when the page did not change.
    sendJsonIfChanged(req, res, await page(fetch, q.limit, q.before, viewer, deps));
  });

  router.get('/calls/recent', async (req: Request, res: Response) => {
    const q = parse(recentQuery, req.query);
    const viewer = frameUserAuth(req, res);
    const portal = viewer.portal.memberId;
    const body: ActivityResponse = {
      calls: (await page((opts) => deps.calls.listRecent(portal, opts), q.limit, q.before, viewer, deps)).calls,
      // Parked writes carry other people's calls and Bitrix24's error texts: an admin's business (they can retry them).
      failedWrites: !viewer.isAdmin ? [] : (deps.outbox?.failed(portal) ?? []).map((item) => ({
        id: item.id, method: item.method, group: item.group, attempts: item.attempts, lastError: item.lastError ?? '', createdAt: item.createdAt,
      })),
    };
    res.json(body);
  });

  router.get('/calls/:id', async (req: Request, res: Response) => {
    const record = await visibleCall(frameUserAuth(req, res), String(req.params.id), 'no such call');
    res.json(toCallRow(record, deps));
  });

  router.get('/calls/:id/recording', async (req: Request, res: Response) => {
    const viewer = frameUserAuth(req, res);
    const portal = viewer.portal.memberId;
    const record = await visibleCall(viewer, String(req.params.id), 'this call has no recording');
    if (!record.recording) throw notFound('this call has no recording');
    const adapter = deps.adapterFor(portal);
    if (!adapter) throw new AppError('PBX_UNAVAILABLE', 'the PBX of this portal is not connected; try again later', 503);
    const download = await adapter.downloadRecording(record.recording);
    // From here on the PBX's connection is open: whatever fails before the pipeline owns it must close it, or the
    // socket to the PBX stays open until the PBX times it out.
    try {
      sendRecording(req, res, download, { portal, callId: record.pbxCallId });
    } catch (err) {
      download.stream.destroy();
      throw err;
    }
  });

  return router;
}

/**
 * `Content-Disposition: inline` naming the file the PBX gave, for any name: an ASCII `filename="…"` for old clients and
 * the exact name as `filename*=UTF-8''…` (RFC 6266 §4.3 with RFC 5987 encoding). A header value outside Latin-1 is
 * refused by Node (ERR_INVALID_CHAR), so a PBX file name in Chinese or Cyrillic must never reach the header raw.
 */
export function inlineDisposition(filename: string): string {
  const base = filename.split(/[\\/]/).pop() ?? '';
  const name = [...base].filter((c) => c.charCodeAt(0) >= 0x20 && c.charCodeAt(0) !== 0x7f).join('') || 'recording';
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\%]/g, '_');
  // encodeURIComponent leaves !'()* as they are; RFC 5987's attr-char does not allow ' ( ) *.
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `inline; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** The recording's answer: whole (200), a range (206) or unsatisfiable (416); the PBX stream is piped or closed. */
function sendRecording(req: Request, res: Response, download: RecordingDownload, ids: { portal: string; callId: string }): void {
  const range = download.size !== undefined ? parseRange(req.headers.range, download.size) : undefined;
  res.setHeader('Content-Type', download.contentType || 'application/octet-stream');
  res.setHeader('Content-Disposition', inlineDisposition(download.filename));
  res.setHeader('Cache-Control', 'private, no-store');
  res.setHeader('Accept-Ranges', download.size !== undefined ? 'bytes' : 'none');
  const log = locals(res).log;
  const done = (err: Error | null | undefined) => {
    if (err) log.warn({ err, ...ids }, 'recording stream ended early');
  };
  if (range === null && download.size !== undefined) {
    download.stream.destroy();
    res.status(416).setHeader('Content-Range', `bytes */${download.size}`);
    res.end();
    return;
  }
  if (range && download.size !== undefined) {
    res.status(206);
    res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${download.size}`);
    res.setHeader('Content-Length', String(range.end - range.start + 1));
    pipeline(download.stream, slice(range.start, range.end), res, done);
    return;
  }
  if (download.size !== undefined) res.setHeader('Content-Length', String(download.size));
  pipeline(download.stream, res, done);
}
