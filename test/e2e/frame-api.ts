/**
 * The product's /api called as a frame user, the way the app in the browser calls it (a frame token minted by the
 * Bitrix24 emulator): what the demo and the browser tests use to set a portal up before a person looks at it.
 */
import type { Stack } from './stack.js';

type Method = 'GET' | 'PUT' | 'POST';

/** Sends one /api request with a frame token; an answer other than 2xx throws with its code and body. */
async function sendFrameApi(stack: Stack, accessToken: string, method: Method, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${stack.server.url}/api${path}`, {
    method,
    headers: { authorization: `Bearer ${accessToken}`, 'x-member-id': stack.portal.memberId, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const answer: unknown = await response.json();
  if (!response.ok) throw new Error(`${method} /api${path} answered ${response.status}: ${JSON.stringify(answer)}`);
  return answer;
}

/** One request as `userId`, with a token minted for it. */
export async function frameApi(stack: Stack, userId: number, method: Method, path: string, body?: unknown): Promise<unknown> {
  const token = await stack.b24.frameToken(stack.portal.memberId, userId);
  return sendFrameApi(stack, token.accessToken, method, path, body);
}

/**
 * Requests that keep one frame token per employee, as one open frame keeps its token: polling with a fresh token each
 * time would be the "many new sign-ins" the product rate-limits (issue 10 point 6) and answer 429.
 */
export function frameApiKeepingTokens(stack: Stack): (userId: number, method: Method, path: string, body?: unknown) => Promise<unknown> {
  const tokens = new Map<number, Promise<{ accessToken: string }>>();
  return async (userId, method, path, body) => {
    let minted = tokens.get(userId);
    if (!minted) tokens.set(userId, (minted = stack.b24.frameToken(stack.portal.memberId, userId)));
    return sendFrameApi(stack, (await minted).accessToken, method, path, body);
  };
}

/** Saves the emulated PBX as the portal's PBX (enabled, WebSocket events) and waits until the link is up. */
export async function connectPbx(stack: Stack, extra: Record<string, unknown> = {}): Promise<void> {
  const admin = stack.portal.adminId;
  const api = frameApiKeepingTokens(stack);
  await api(admin, 'PUT', '/settings', {
    enabled: true,
    pbx: { baseUrl: stack.pbx.url, clientId: stack.pbx.clientId, clientSecret: stack.pbx.clientSecret, events: 'websocket' },
    ...extra,
  });
  const until = Date.now() + 20_000;
  for (;;) {
    const status = (await api(admin, 'GET', '/status')) as { pbx: { state: string } };
    if (status.pbx.state === 'connected') return;
    if (Date.now() > until) throw new Error(`the PBX link did not come up (state ${status.pbx.state})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
