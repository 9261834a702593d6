import { createHmac, timingSafeEqual } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import type { PbxWebhookDeps } from '../brand.js';

/**
 * Webhook mode: the PBX POSTs each event to `POST /pbx/webhook/:portalKey` with
 * `X-Signature: base64(HMAC-SHA256(secret, raw body))`
 * (https://help.yeastar.com/en/p-series-software-edition/developer-guide/monitor-events-via-webhook.html).
 * The signature is computed over the exact bytes received, so the body is read raw, never re-serialized.
 * The portal key in the path is an unguessable per-portal value (pbx/webhook-routing.ts: HMAC of the member id with a
 * server-side key), so the URL alone reveals nothing and cannot be enumerated.
 */

/** True when `signature` is the base64 HMAC-SHA256 of `body` under `secret`; constant time. */
export function verifyWebhookSignature(secret: string, body: Buffer, signature: string | undefined): boolean {
  if (secret === '' || signature === undefined || signature === '') return false;
  const expected = createHmac('sha256', secret).update(body).digest();
  const given = Buffer.from(signature.trim(), 'base64');
  if (given.length !== expected.length) return false;
  return timingSafeEqual(given, expected);
}

export function signWebhookBody(secret: string, body: Buffer | string): string {
  return createHmac('sha256', secret).update(body).digest('base64');
}

export function createPbxWebhookRouter(deps: PbxWebhookDeps): Router {
  const router = express.Router();
  router.post('/pbx/webhook/:portalKey', express.raw({ type: '*/*', limit: deps.limit ?? '1mb' }), (req: Request, res: Response) => {
    const key = String(req.params['portalKey'] ?? '');
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const target = deps.resolve(key);
    const header = req.get('x-signature');
    if (!target || !verifyWebhookSignature(target.webhookSecret, body, header)) {
      // Same answer for an unknown key and a bad signature: nothing to learn by probing.
      deps.log.warn({ portal: target?.portal, ip: req.ip, signed: header !== undefined, size: body.length }, 'PBX webhook refused: unknown key or wrong signature');
      res.status(401).json({ error: 'UNAUTHORIZED', message: 'UNAUTHORIZED: wrong or missing X-Signature' });
      return;
    }
    let event: unknown;
    try {
      event = JSON.parse(body.toString('utf8'));
    } catch {
      deps.log.warn({ portal: target.portal, size: body.length }, 'PBX webhook: signed body is not JSON, skipped');
      res.status(400).json({ error: 'BAD_REQUEST', message: 'BAD_REQUEST: body is not JSON' });
      return;
    }
    if ('handOver' in target) {
      // The portal's link runs on another instance: the 2xx says the event is taken, so it waits for that instance;
      // a 503 leaves the event to the PBX's retry (if it makes one) and to the link's call-history sweep.
      target.handOver(event).then(() => {
        res.status(200).json({ ok: true });
      }, (err: unknown) => {
        deps.log.warn({ portal: target.portal, code: err instanceof Error && 'code' in err ? String(err.code) : undefined },
          'PBX webhook push not taken by the instance that runs the portal\'s link: answered 503');
        res.status(503).json({ error: 'PORTAL_OWNER_UNREACHABLE', message: 'PORTAL_OWNER_UNREACHABLE: the event was not taken; send it again later' });
      });
      return;
    }
    const { deliver } = target;
    // Answer first: the PBX only needs a 2xx; the work happens after.
    res.status(200).json({ ok: true });
    setImmediate(() => {
      try {
        deliver(event);
      } catch (err) {
        deps.log.error({ err, portal: target.portal }, 'PBX webhook event could not be handled');
      }
    });
  });
  return router;
}
