import express from 'express';
import { pino } from 'pino';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createPbxWebhookRouter, signWebhookBody, verifyWebhookSignature } from '../../../server/pbx/yeastar/webhook.js';

const log = pino({ level: 'silent' });
const SECRET = 'abcdefghijklmnopqrstuvwxyz012345';

function app(received: unknown[]) {
  const a = express();
  a.use(createPbxWebhookRouter({
    log,
    resolve: (key) => (key === 'good-key' ? { portal: 'p1', webhookSecret: SECRET, deliver: (e) => received.push(e) } : undefined),
  }));
  return a;
}

describe('PBX webhook receiver', () => {
  const body = JSON.stringify({ type: 30012, sn: 'SN', msg: JSON.stringify({ call_id: '1.1', status: 'ANSWERED' }) });

  it('accepts a body signed with base64 HMAC-SHA256 of the raw bytes and delivers it', async () => {
    const received: unknown[] = [];
    await request(app(received)).post('/pbx/webhook/good-key').set('Content-Type', 'application/json').set('X-Signature', signWebhookBody(SECRET, body)).send(body).expect(200);
    await new Promise((r) => setImmediate(r));
    expect(received).toEqual([JSON.parse(body)]);
  });

  it('refuses a wrong, missing or re-serialized signature, and an unknown key, with 401', async () => {
    const received: unknown[] = [];
    const a = app(received);
    await request(a).post('/pbx/webhook/good-key').set('Content-Type', 'application/json').set('X-Signature', signWebhookBody('other-secret', body)).send(body).expect(401);
    await request(a).post('/pbx/webhook/good-key').set('Content-Type', 'application/json').send(body).expect(401);
    const spaced = body.replace(':', ': ');
    await request(a).post('/pbx/webhook/good-key').set('Content-Type', 'application/json').set('X-Signature', signWebhookBody(SECRET, body)).send(spaced).expect(401);
    await request(a).post('/pbx/webhook/other').set('Content-Type', 'application/json').set('X-Signature', signWebhookBody(SECRET, body)).send(body).expect(401);
    await new Promise((r) => setImmediate(r));
    expect(received).toEqual([]);
  });

  it('verifies in constant time and never accepts an empty secret', () => {
    const raw = Buffer.from(body);
    expect(verifyWebhookSignature(SECRET, raw, signWebhookBody(SECRET, raw))).toBe(true);
    expect(verifyWebhookSignature('', raw, signWebhookBody('', raw))).toBe(false);
    expect(verifyWebhookSignature(SECRET, raw, 'short')).toBe(false);
    expect(verifyWebhookSignature(SECRET, raw, undefined)).toBe(false);
  });
});
