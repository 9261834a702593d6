import type { Request, Response } from 'express';
import type { UserAuth } from '../bitrix/as-user.js';
import { unauthorized } from '../errors.js';
import { frameUser, type FrameUser } from './context.js';

const BEARER = /^Bearer\s+(\S+)$/;

/**
 * The frame user of an /api request together with their frame token, for reads Bitrix24 must judge with the
 * employee's own rights (bitrix/as-user.ts). The token is the one frame auth has just checked against this portal
 * (`profile`), read again from the same header: it is never stored nor logged.
 */
export function frameUserAuth(req: Request, res: Response): FrameUser & UserAuth {
  const user = frameUser(res);
  const token = BEARER.exec(req.get('authorization') ?? '')?.[1];
  if (!token) throw unauthorized('missing Bitrix24 frame auth (Authorization: Bearer <AUTH_ID>)');
  return { ...user, accessToken: token };
}
