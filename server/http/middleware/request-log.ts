import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../../log.js';
import type { RequestLocals } from '../context.js';

const INCOMING_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The child logger at the edge (house style): every request gets a requestId and a logger carrying it; one line
 * when the answer is sent. Only the path is logged, never the query string (installer queries carry session ids).
 */
export function requestLog(log: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const header = req.get('x-request-id');
    const requestId = header && INCOMING_ID.test(header) ? header : randomUUID();
    const child = log.child({ requestId });
    const locals: RequestLocals = { log: child, requestId };
    Object.assign(res.locals, locals);
    res.setHeader('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const quiet = req.path === '/healthz' || req.path === '/metrics' || req.path.startsWith('/assets/');
      const entry = { method: req.method, path: req.path, status: res.statusCode, ms: Math.round(ms * 10) / 10 };
      if (quiet) child.debug(entry, 'request');
      else child.info(entry, 'request');
    });
    next();
  };
}
