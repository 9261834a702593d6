import { Readable } from 'node:stream';
import type { PbxHttpRequest, PbxStreamResponse, PbxTransport } from '../../../server/pbx/yeastar/transport.js';

/** A scripted PBX for unit tests: each handler answers one path; every request is recorded. */
export type Handler = (req: PbxHttpRequest) => { status?: number; json: unknown } | Promise<{ status?: number; json: unknown }>;

export function fakeTransport(handlers: Record<string, Handler>): PbxTransport & { requests: PbxHttpRequest[] } {
  const requests: PbxHttpRequest[] = [];
  return {
    requests,
    async requestJson(req) {
      requests.push(req);
      const handler = handlers[req.path];
      if (!handler) return { status: 200, json: { errcode: 10001, errmsg: 'INTERFACE NOT EXISTED' } };
      const answer = await handler(req);
      return { status: answer.status ?? 200, json: answer.json };
    },
    async requestStream(req): Promise<PbxStreamResponse> {
      requests.push(req);
      const handler = handlers[req.path];
      const answer = handler ? await handler(req) : { json: { errcode: 10001, errmsg: 'INTERFACE NOT EXISTED' } };
      if (typeof answer.json === 'string') return { status: 200, stream: Readable.from([Buffer.from(answer.json)]), contentType: 'audio/x-wav' };
      return { status: answer.status ?? 200, stream: Readable.from([Buffer.from(JSON.stringify(answer.json))]), contentType: 'application/json' };
    },
  };
}

export const tokenReply = (n: number, ttl = 1800) => ({
  json: { errcode: 0, errmsg: 'SUCCESS', access_token: `access-${n}`, access_token_expire_time: ttl, refresh_token: `refresh-${n}`, refresh_token_expire_time: 86400 },
});
