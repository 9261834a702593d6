/**
 * GET /api/crm/open-items: query validation, the caller's own portal, the response shape, and Bitrix24 failures
 * answered through the app's one error handler (a retry is worth it: 503; Bitrix24 refused: 502).
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import type { UserAuth } from '../../../server/bitrix/as-user.js';
import { BitrixError } from '../../../server/bitrix/types.js';
import type { OpenItems, OpenItemsOwner, OpenItemsReader } from '../../../server/contacts/open-items.js';
import { crmApiRouter } from '../../../server/http/api/crm.js';
import type { OpenItemsResponse } from '../../../contract/api-shapes.js';
import { errorHandler } from '../../../server/http/middleware/errors.js';
import { portal, silentLog } from '../calls/fakes.js';

const ITEMS: OpenItems = {
  record: { name: 'John Doe', responsible: { id: 5, name: 'Alice Smith' } },
  deals: [{ id: 2, title: 'Renewal 2027', stageId: 'PREPARATION', stageName: 'Quote sent', amount: 1500.5, currency: 'EUR' }],
  activities: [{ id: 11, subject: 'Send the contract', deadline: '2026-12-01T09:00:00+00:00', typeId: 6 }],
  moreDeals: false,
  moreActivities: false,
  fetchedAt: 1_000,
};

class RecordingReader implements OpenItemsReader {
  readonly reads: { portal: string; userId: number; token: string; entityType: OpenItemsOwner; entityId: number }[] = [];
  failure: Error | null = null;
  async read(user: UserAuth, entityType: OpenItemsOwner, entityId: number): Promise<OpenItems> {
    this.reads.push({ portal: user.portal.memberId, userId: user.userId, token: user.accessToken, entityType, entityId });
    if (this.failure) throw this.failure;
    return ITEMS;
  }
  forget(): void {}
}

function app(reader: OpenItemsReader) {
  const a = express();
  // Stands in for the frame-auth middleware: the token decides the portal.
  a.use((req: Request, res: Response, next: NextFunction) => {
    req.headers.authorization ??= 'Bearer p1-token';
    res.locals.log = silentLog();
    res.locals.requestId = 'r';
    res.locals.user = { portal: portal(req.headers.authorization === 'Bearer p2-token' ? 'p2' : 'p1'), userId: 11, isAdmin: false };
    next();
  });
  a.use('/api', crmApiRouter({ openItems: reader }));
  a.use(errorHandler());
  return a;
}

describe('GET /api/crm/open-items', () => {
  it("answers the record's open deals and activities for the caller's own portal", async () => {
    const reader = new RecordingReader();
    const res = await request(app(reader)).get('/api/crm/open-items?entityType=CONTACT&entityId=7').expect(200);
    const body = res.body as OpenItemsResponse;
    expect(body).toEqual({ entityType: 'CONTACT', entityId: 7, ...ITEMS });
    expect(res.headers['cache-control']).toBe('private, no-store');
    await request(app(reader)).get('/api/crm/open-items?entityType=LEAD&entityId=9').set('Authorization', 'Bearer p2-token').expect(200);
    // Read as the agent, with the agent's own frame token (issue 10 point 7), never the app's.
    expect(reader.reads).toEqual([
      { portal: 'p1', userId: 11, token: 'p1-token', entityType: 'CONTACT', entityId: 7 },
      { portal: 'p2', userId: 11, token: 'p2-token', entityType: 'LEAD', entityId: 9 },
    ]);
  });

  it('400 on a missing, unknown or malformed record, without asking Bitrix24', async () => {
    const reader = new RecordingReader();
    const a = app(reader);
    for (const q of ['', 'entityType=CONTACT', 'entityId=7', 'entityType=INVOICE&entityId=7', 'entityType=contact&entityId=7',
      'entityType=CONTACT&entityId=0', 'entityType=CONTACT&entityId=-3', 'entityType=CONTACT&entityId=1.5', 'entityType=CONTACT&entityId=abc',
      'entityType=CONTACT&entityId=99999999999999999999']) {
      const res = await request(a).get(`/api/crm/open-items?${q}`).expect(400);
      expect(res.body.error).toBe('BAD_REQUEST');
    }
    expect(reader.reads).toEqual([]);
  });

  it('Bitrix24 failures: 503 when a retry may help, 502 when Bitrix24 refused', async () => {
    const reader = new RecordingReader();
    reader.failure = new BitrixError('QUERY_LIMIT_EXCEEDED', 'Too many requests', 503, true);
    const busy = await request(app(reader)).get('/api/crm/open-items?entityType=CONTACT&entityId=7').expect(503);
    expect(busy.body.error).toBe('BITRIX_QUERY_LIMIT_EXCEEDED');
    reader.failure = new BitrixError('ACCESS_DENIED', 'Access denied.', 400, false);
    const refused = await request(app(reader)).get('/api/crm/open-items?entityType=CONTACT&entityId=7').expect(502);
    expect(refused.body.error).toBe('BITRIX_ACCESS_DENIED');
  });
});
