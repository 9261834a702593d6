import type { Stack } from './stack.js';

/** Calls the product's /api as a frame user of the seeded portal, the way the app in the browser does. */
export async function frameApi(stack: Stack, userId: number, method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown): Promise<unknown> {
  const token = await stack.b24.frameToken(stack.portal.memberId, userId);
  const response = await fetch(`${stack.server.url}/api${path}`, {
    method,
    headers: { authorization: `Bearer ${token.accessToken}`, 'x-member-id': stack.portal.memberId, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const answer: unknown = await response.json();
  if (!response.ok) throw new Error(`${method} /api${path} answered ${response.status}: ${JSON.stringify(answer)}`);
  return answer;
}

/** What the admin does on the Connection tab, done ahead: the emulated PBX saved and enabled, the link up. */
export async function connectPbx(stack: Stack): Promise<void> {
  const admin = stack.portal.adminId;
  await frameApi(stack, admin, 'PUT', '/settings', {
    enabled: true,
    pbx: { baseUrl: stack.pbx.url, clientId: stack.pbx.clientId, clientSecret: stack.pbx.clientSecret, events: 'websocket' },
  });
  const until = Date.now() + 20_000;
  for (;;) {
    const status = (await frameApi(stack, admin, 'GET', '/status')) as { pbx: { state: string } };
    if (status.pbx.state === 'connected') return;
    if (Date.now() > until) throw new Error(`the PBX link did not come up (state ${status.pbx.state})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
