import type { NextFunction, Request, Response } from 'express';
import { AppError } from '../../errors.js';

/**
 * Per-route request bodies with the route's own limit, refused as soon as the limit is known to be passed — never read
 * whole first. Why not express.json alone: on a too-large body, body-parser answers only after it has read (and thrown
 * away) the rest of it, so a client announcing 64 MB makes the server read 64 MB to say no; and a parser mounted for a
 * whole router reads every body before the route's own, smaller, limit can apply.
 */

const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 * 1024 };

/** `4kb` → 4096. */
export function bytes(size: `${number}${'b' | 'kb' | 'mb'}`): number {
  const m = /^(\d+)(b|kb|mb)$/.exec(size);
  if (!m) throw new Error(`not a size: ${size}`);
  return Number(m[1]) * (UNITS[m[2] ?? 'b'] ?? 1);
}

/** At most this much of a refused body is read (and thrown away) after the 413, before the connection is cut. */
const DISCARD_MAX_BYTES = 2 * 1024 * 1024;

/**
 * The 413 goes out at once; what the client still sends is read and dropped, never kept, up to DISCARD_MAX_BYTES, then
 * the socket is cut. Why not close at once: a socket closed with the client's bytes unread is reset by the kernel, and
 * the client then reads ECONNRESET instead of our 413 (the "lingering close" HTTP servers do; seen as ECONNRESET in
 * test/integration/abuse under load). A client announcing 64 MB still costs at most 2 MB of reading and no memory.
 */
function discardRest(req: Request): void {
  let discarded = 0;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > DISCARD_MAX_BYTES) req.socket.destroy();
  });
  req.resume();
}

/** body-parser's shape for a too-large body (status 413, `limit`), mapped by the one error handler. */
function tooLarge(req: Request, limit: number): Error {
  discardRest(req);
  return Object.assign(new Error('request body too large'), { status: 413, type: 'entity.too.large', limit, expose: true });
}

/** The declared Content-Length is over the limit: refused before a byte of the body is read (forms, raw bodies). */
export function declaredWithin(limit: number) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const declared = Number(req.get('content-length'));
    if (Number.isFinite(declared) && declared > limit) {
      next(tooLarge(req, limit));
      return;
    }
    next();
  };
}

/**
 * A JSON body of at most `limit` bytes into `req.body` (objects and arrays only, UTF-8). A body of another type is left
 * unread (the /api guard answers 415 for it); no body leaves `req.body` undefined, as express.json does.
 */
export function jsonBody(limit: number) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const declared = Number(req.get('content-length'));
    const chunked = req.get('transfer-encoding') !== undefined;
    if (!chunked && !(declared > 0)) {
      next();
      return;
    }
    if (!req.is('application/json')) {
      next();
      return;
    }
    if (Number.isFinite(declared) && declared > limit) {
      next(tooLarge(req, limit));
      return;
    }
    const encoding = (req.get('content-encoding') ?? 'identity').toLowerCase();
    const charset = /charset=([^;\s]+)/i.exec(req.get('content-type') ?? '')?.[1]?.toLowerCase().replace(/"/g, '');
    if (encoding !== 'identity' || (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')) {
      next(new AppError('UNSUPPORTED_MEDIA_TYPE', 'the API accepts uncompressed UTF-8 JSON only', 415));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      if (err !== undefined) next(err);
      else next();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        settle(tooLarge(req, limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const first = text.trimStart()[0];
      try {
        if (first !== '{' && first !== '[') throw new SyntaxError('not a JSON object or array');
        (req as { body: unknown }).body = JSON.parse(text);
      } catch {
        settle(Object.assign(new Error('malformed JSON body'), { status: 400, type: 'entity.parse.failed', expose: true }));
        return;
      }
      settle();
    };
    const onError = (err: Error) => settle(Object.assign(err, { status: 400, expose: true }));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  };
}
