import express from 'express';
import { pino } from 'pino';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../server/errors.js';
import { createPbxWebhookRouter, signWebhookBody } from '../../../server/pbx/yeastar/webhook.js';

/**
 * Issue 14: a push for a portal whose link runs on another instance is answered only once that instance took it
 * (the 2xx tells the PBX the event is delivered), and 503 when it did not, so a PBX that retries sends it again.
 * The signature is checked before anything is handed over.
 */

const log = pino({ level: 'silent' });
const SECRET = 'abcdefghijklmnopqrstuvwxyz012345';
const body = JSON.stringify({ type: 30012, sn: 'SN', msg: JSON.stringify({ call_id: '1.1', status: 'ANSWERED' }) });

function app(handOver: (event: unknown) => Promise<void>) {
  const a = express();
  a.use(createPbxWebhookRouter({ log, resolve: (key) => (key === 'k' ? { portal: 'p1', webhookSecret: SECRET, handOver } : undefined) }));
  return a;
}

describe('PBX webhook push handed to the owner', () => {
  it('answers 200 only after the owner took the event', async () => {
    const handed: unknown[] = [];
    let release: () => void = () => undefined;
    const taken = new Promise<void>((resolve) => { release = resolve; });
    const pending = request(app(async (event) => {
      handed.push(event);
      await taken;
    })).post('/pbx/webhook/k').set('Content-Type', 'application/json').set('X-Signature', signWebhookBody(SECRET, body)).send(body).then((res) => res.status);
    let answered = false;
    void pending.then(() => { answered = true; });
    while (handed.length === 0) await new Promise((r) => setImmediate(r));
    expect(answered).toBe(false);
    release();
    expect(await pending).toBe(200);
    expect(handed).toEqual([JSON.parse(body)]);
  });

  it('answers 503 when the owner did not take it in time', async () => {
    const res = await request(app(() => Promise.reject(new AppError('PORTAL_OWNER_UNREACHABLE', 'no answer', 503))))
      .post('/pbx/webhook/k').set('Content-Type', 'application/json').set('X-Signature', signWebhookBody(SECRET, body)).send(body);
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ error: 'PORTAL_OWNER_UNREACHABLE' });
  });

  it('hands nothing over for a wrong signature (401)', async () => {
    const handed: unknown[] = [];
    await request(app(async (event) => { handed.push(event); })).post('/pbx/webhook/k').set('Content-Type', 'application/json')
      .set('X-Signature', signWebhookBody('wrong-secret-wrong-secret-wrong!', body)).send(body).expect(401);
    expect(handed).toEqual([]);
  });
});
