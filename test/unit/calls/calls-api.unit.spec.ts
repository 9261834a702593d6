import express, { type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../server/errors.js';
import { callsApiRouter, parseRange } from '../../../server/http/api/calls.js';
import type { CallsPage } from '../../../contract/api-shapes.js';
import type { CallRecord } from '../../../server/store/records.js';
import type { CallRecordingRef, PbxAdapter, RecordingDownload } from '../../../server/pbx/adapter.js';
import { FakeOutbox, FakePbx, MemoryBindings, MemoryCalls, portal, silentLog, wav } from './fakes.js';

function call(p: string, id: string, startedAt: number, over: Partial<CallRecord> = {}): CallRecord {
  return {
    portal: p, pbxCallId: id, direction: 'inbound', external: '+14155550123', extensions: ['1001'], shownTo: [11], startedAt,
    talkSeconds: 10, origin: 'pbx', recordingState: 'none', phase: 'logged', crm: { entityType: 'CONTACT', entityId: 5 }, updatedAt: startedAt,
    ...over,
  };
}

async function app(pbxOverride?: (pbx: FakePbx) => PbxAdapter) {
  const calls = new MemoryCalls();
  await calls.put(call('p1', 'a', 1000, { answeredBy: '1001', result: 'answered' }));
  await calls.put(call('p1', 'b', 3000, { recording: { ref: 'rec-b', filename: 'b.wav' }, recordingState: 'attached' }));
  await calls.put(call('p1', 'c', 2000));
  await calls.put(call('p1', 'd', 4000, { crm: { entityType: 'LEAD', entityId: 9 } }));
  await calls.put(call('p1', 'internal', 5000, { phase: 'ignored' }));
  await calls.put(call('p2', 'zh', 500, { recording: { ref: 'rec-zh', filename: '20261206-张伟-1001-Inbound.wav' }, recordingState: 'attached' }));
  await calls.put(call('p2', 'other', 2500, { recording: { ref: 'rec-other', filename: 'o.wav' } }));
  const pbx = new FakePbx();
  pbx.recordings.set('rec-b', wav(400));
  pbx.recordings.set('rec-other', wav(10));
  pbx.recordings.set('rec-zh', wav(20));
  const adapter = pbxOverride ? pbxOverride(pbx) : pbx;
  const outbox = new FakeOutbox();
  const a = express();
  // Stands in for the frame-auth middleware: the token decides the portal.
  a.use((req: Request, res: Response, next: NextFunction) => {
    req.headers.authorization ??= 'Bearer p1-token';
    const member = req.headers.authorization === 'Bearer p2-token' ? 'p2' : 'p1';
    res.locals.log = silentLog();
    res.locals.requestId = 'r';
    res.locals.user = { portal: portal(member), userId: 11, isAdmin: false };
    next();
  });
  a.use('/api', callsApiRouter({
    calls, bindings: new MemoryBindings({ p1: [{ userId: 11, extension: '1001', source: 'manual' }] }),
    adapterFor: () => adapter, outbox, userName: (_p, id) => (id === 11 ? 'Anna Agent' : null),
    // Who sees which call is calls/call-access.ts's business (its own tests): here every call of the portal is visible.
    access: { visible: async (_viewer, records) => records },
  }));
  a.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof AppError) res.status(err.status).json(err.toJSON());
    else res.status(500).json({ error: 'INTERNAL' });
  });
  return a;
}

describe('calls API', () => {
  it('GET /calls?entityType&entityId: the calls of one CRM record, newest first, with a cursor', async () => {
    const a = await app();
    const first = await request(a).get('/api/calls?entityType=CONTACT&entityId=5&limit=2').expect(200);
    const body = first.body as CallsPage;
    expect(body.calls.map((c) => c.id)).toEqual(['b', 'c']);
    expect(body.nextBefore).toBe(2000);
    const second = (await request(a).get(`/api/calls?entityType=CONTACT&entityId=5&limit=2&before=${body.nextBefore}`).expect(200)).body as CallsPage;
    expect(second.calls.map((c) => c.id)).toEqual(['a']);
    expect(second.nextBefore).toBeNull();
    expect(second.calls[0]).toMatchObject({
      answeredBy: { extension: '1001', userId: 11, userName: 'Anna Agent' }, result: 'answered', crm: { entityType: 'CONTACT', entityId: 5 },
      recording: { available: false, state: 'none', url: null }, live: false,
    });
    expect(body.calls[0]?.recording).toEqual({ available: true, state: 'attached', url: '/api/calls/b/recording' });
  });

  it('400 on bad parameters', async () => {
    const a = await app();
    for (const q of ['entityType=CONTACT', 'entityType=USER&entityId=1', 'entityType=CONTACT&entityId=abc', 'limit=0', 'limit=1000', 'before=-5']) {
      const res = await request(a).get(`/api/calls?${q}`).expect(400);
      expect(res.body.error).toBe('BAD_REQUEST');
    }
  });

  it('GET /calls/recent: the Activity page, without ignored calls, with parked writes', async () => {
    const a = await app();
    const res = await request(a).get('/api/calls/recent').expect(200);
    expect(res.body.calls.map((c: { id: string }) => c.id)).toEqual(['d', 'b', 'c', 'a']);
    expect(res.body.failedWrites).toEqual([]);
  });

  it('GET /calls/:id of another portal is not found', async () => {
    const a = await app();
    await request(a).get('/api/calls/a').expect(200);
    await request(a).get('/api/calls/other').expect(404);
    await request(a).get('/api/calls/other').set('Authorization', 'Bearer p2-token').expect(200);
    await request(a).get('/api/calls/a').set('Authorization', 'Bearer p2-token').expect(404);
  });

  it('GET /calls/:id/recording streams the WAV, honours Range, refuses other portals and calls without one', async () => {
    const a = await app();
    const full = await request(a).get('/api/calls/b/recording').buffer(true).parse((res, cb) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => cb(null, Buffer.concat(chunks)));
    }).expect(200);
    expect(full.headers['content-type']).toBe('audio/wav');
    expect((full.body as Buffer).equals(wav(400))).toBe(true);
    const part = await request(a).get('/api/calls/b/recording').set('Range', 'bytes=0-11').buffer(true).parse((res, cb) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => cb(null, Buffer.concat(chunks)));
    }).expect(206);
    expect(part.headers['content-range']).toBe(`bytes 0-11/${wav(400).length}`);
    expect((part.body as Buffer).toString('ascii', 0, 4)).toBe('RIFF');
    expect((part.body as Buffer).length).toBe(12);
    await request(a).get('/api/calls/other/recording').expect(404);
    await request(a).get('/api/calls/a/recording').expect(404);
  });

  it('a file name outside Latin-1 plays with an RFC 6266 filename* and an ASCII fallback (was: 500)', async () => {
    const res = await request(await app()).get('/api/calls/zh/recording').set('Authorization', 'Bearer p2-token').buffer(true).parse((r, cb) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => cb(null, Buffer.concat(chunks)));
    }).expect(200);
    expect(res.headers['content-disposition']).toBe(
      `inline; filename="20261206-__-1001-Inbound.wav"; filename*=UTF-8''20261206-${encodeURIComponent('张伟')}-1001-Inbound.wav`,
    );
    expect((res.body as Buffer).equals(wav(20))).toBe(true);
  });

  it('an answer that fails after the download started closes the PBX stream (no socket left open to the PBX)', async () => {
    const streams: RecordingDownload['stream'][] = [];
    const a = await app((pbx) => Object.assign(Object.create(pbx) as FakePbx, {
      async downloadRecording(ref: CallRecordingRef): Promise<RecordingDownload> {
        const download = await pbx.downloadRecording(ref);
        streams.push(download.stream);
        // A header value Node refuses (ERR_INVALID_CHAR) fails the answer after the PBX connection is open.
        return { ...download, contentType: 'audio/wav\r\nX-Injected: 1' };
      },
    }));
    await request(a).get('/api/calls/b/recording').expect(500);
    expect(streams).toHaveLength(1);
    expect(streams[0]?.destroyed).toBe(true);
  });

  it('parseRange', () => {
    expect(parseRange(undefined, 100)).toBeUndefined();
    expect(parseRange('bytes=10-19', 100)).toEqual({ start: 10, end: 19 });
    expect(parseRange('bytes=90-', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=-10', 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange('bytes=95-200', 100)).toEqual({ start: 95, end: 99 });
    expect(parseRange('bytes=100-', 100)).toBeNull();
    expect(parseRange('items=1-2', 100)).toBeUndefined();
  });
});
