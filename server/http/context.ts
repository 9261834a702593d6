import type { Request, Response } from 'express';
import type { Logger } from '../log.js';
import type { Portal } from '../store/records.js';

/** Who is calling /api, established by the frame-auth middleware from the Bitrix24 frame's token. */
export interface FrameUser {
  portal: Portal;
  userId: number;
  isAdmin: boolean;
}

/** res.locals for every request: the child logger; on /api also the authenticated frame user. */
export interface RequestLocals {
  log: Logger;
  requestId: string;
  user?: FrameUser;
}

export function locals(res: Response): RequestLocals {
  return res.locals as RequestLocals;
}

/** The authenticated user of an /api request; the middleware guarantees it is there. */
export function frameUser(res: Response): FrameUser {
  const user = (res.locals as RequestLocals).user;
  if (!user) throw new Error('frameUser() used on a route without frame auth');
  return user;
}

export type ApiRequest = Request;
