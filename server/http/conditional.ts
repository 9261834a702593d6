import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';

/**
 * A JSON answer that open frames can poll cheaply (client/live.ts): the ETag is a hash of this very answer, and a
 * request whose If-None-Match names it gets 304 without a body.
 *
 * Why not Express's own ETag check: a page that sets If-None-Match itself makes the browser send
 * `Cache-Control: no-cache` too (Fetch standard, HTTP-network-or-cache fetch: a conditional header turns the cache
 * mode to no-store), and Express's `req.fresh` treats that as "never fresh". That header asks caches between us to
 * revalidate; here the server itself compares, which is the revalidation.
 * One portal's tag never matches another's answer: the answer carries its portal's memberId.
 */
export function sendJsonIfChanged(req: Request, res: Response, body: unknown): void {
  const json = JSON.stringify(body);
  const tag = `W/"${createHash('sha256').update(json).digest('base64url').slice(0, 32)}"`;
  res.setHeader('ETag', tag);
  // Kept by the browser only to revalidate; frame tokens differ per user, so nothing shared may store it.
  res.setHeader('Cache-Control', 'private, no-cache');
  const asked = req.headers['if-none-match'];
  if (typeof asked === 'string' && asked.split(',').some((candidate) => candidate.trim() === tag)) {
    res.status(304).end();
    return;
  }
  res.type('application/json').send(json);
}
