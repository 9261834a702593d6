/**
 * Call history for the Vue client (timeline tab, Activity page) and recording playback. Documented in docs/api-calls.md.
 * The frame-auth middleware runs before this router: every read is scoped to the caller's own portal, so another
 * portal's call id is simply not found.
 */
import { Router, type Request, type Response } from 'express';
import { Transform, pipeline, type TransformCallback } from 'node:stream';
import { z } from 'zod';
import { AppError, badRequest, notFound } from '../../errors.js';
import type { Outbox } from '../../outbox/types.js';
import type { PbxAdapter } from '../../pbx/adapter.js';
import type { CallRecord } from '../../store/records.js';
import type { BindingsRepository, CallsRepository } from '../../store/types.js';
import { frameUser, locals } from '../context.js';
import type { ActivityResponse, CallRow, CallsPage } from './shapes.js';

export interface CallsApiDeps {
  calls: CallsRepository;
  bindings: BindingsRepository;
  adapterFor(portal: string): PbxAdapter | undefined;
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
  ...pageQuery,
}).refine((q) => (q.entityType === undefined) === (q.entityId === undefined), {
  message: 'entityType and entityId go together',
});

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
    recording: {
      available: record.recording !== undefined,
      state: record.recordingState,
      url: record.recording ? recordingUrl(record.pbxCallId) : null,
    },
    live: record.phase === 'live',
  };
}

type Fetch = (opts: { limit: number; before?: number }) => CallRecord[];

/**
 * One page of visible calls. Ignored calls (internal, unbound-only) are stored too, so the store is read in
 * slices until the page is full or the history ends; `nextBefore` is the startedAt of the last row shown.
 */
function page(fetch: Fetch, limit: number, before: number | undefined, deps: CallsApiDeps): CallsPage {
  const rows: CallRow[] = [];
  let cursor = before;
  for (;;) {
    const batch = fetch({ limit, ...(cursor !== undefined ? { before: cursor } : {}) });
    for (const record of batch) {
      if (record.phase === 'ignored') continue;
      rows.push(toCallRow(record, deps));
      if (rows.length === limit) return { calls: rows, nextBefore: record.startedAt };
    }
    const last = batch[batch.length - 1];
    if (batch.length < limit || !last || last.startedAt === cursor) return { calls: rows, nextBefore: null };
    cursor = last.startedAt;
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

  router.get('/calls', (req: Request, res: Response) => {
    const q = parse(listQuery, req.query);
    const portal = frameUser(res).portal.memberId;
    const { entityType, entityId } = q;
    const fetch: Fetch = entityType !== undefined && entityId !== undefined
      ? (opts) => deps.calls.listByEntity(portal, entityType, entityId, opts)
      : (opts) => deps.calls.listRecent(portal, opts);
    res.json(page(fetch, q.limit, q.before, deps));
  });

  router.get('/calls/recent', (req: Request, res: Response) => {
    const q = parse(recentQuery, req.query);
    const portal = frameUser(res).portal.memberId;
    const body: ActivityResponse = {
      calls: page((opts) => deps.calls.listRecent(portal, opts), q.limit, q.before, deps).calls,
      failedWrites: (deps.outbox?.failed(portal) ?? []).map((item) => ({
        id: item.id, method: item.method, group: item.group, attempts: item.attempts, lastError: item.lastError ?? '', createdAt: item.createdAt,
      })),
    };
    res.json(body);
  });

  router.get('/calls/:id', (req: Request, res: Response) => {
    const portal = frameUser(res).portal.memberId;
    const record = deps.calls.get(portal, String(req.params.id));
    if (!record || record.phase === 'ignored') throw notFound('no such call');
    res.json(toCallRow(record, deps));
  });

  router.get('/calls/:id/recording', async (req: Request, res: Response) => {
    const portal = frameUser(res).portal.memberId;
    const record = deps.calls.get(portal, String(req.params.id));
    if (!record?.recording) throw notFound('this call has no recording');
    const adapter = deps.adapterFor(portal);
    if (!adapter) throw new AppError('PBX_UNAVAILABLE', 'the PBX of this portal is not connected; try again later', 503);
    const download = await adapter.downloadRecording(record.recording);
    const range = download.size !== undefined ? parseRange(req.headers.range, download.size) : undefined;
    res.setHeader('Content-Type', download.contentType || 'application/octet-stream');
    res.setHeader('Content-Disposition', `inline; filename="${download.filename.replace(/["\\\r\n]/g, '_')}"`);
    res.setHeader('Cache-Control', 'private, no-store');
    res.setHeader('Accept-Ranges', download.size !== undefined ? 'bytes' : 'none');
    const log = locals(res).log;
    const done = (err: Error | null | undefined) => {
      if (err) log.warn({ err, portal, callId: record.pbxCallId }, 'recording stream ended early');
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
  });

  return router;
}
