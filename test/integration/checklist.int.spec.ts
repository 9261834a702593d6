/**
 * The first-run checklist API (issue 12 point 6, server/portals/checklist.ts) against the real server and both
 * emulators: every step read from the portal's state, the default-line tick an admin-only, validated change.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChecklistResponse } from '../../contract/api-shapes.js';
import { connectPbx, frameApi } from '../e2e/frame-api.js';
import { startStack, type Stack } from '../e2e/stack.js';

describe('GET /api/checklist, PUT /api/checklist/default-line', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack();
  }, 60_000);

  afterAll(async () => {
    await stack?.close();
  }, 30_000);

  const checklist = async (userId = stack.portal.adminId): Promise<ChecklistResponse> =>
    (await frameApi(stack, userId, 'GET', '/checklist')) as ChecklistResponse;

  async function put(userId: number, body: unknown): Promise<{ status: number; body: { error?: string } & Partial<ChecklistResponse> }> {
    const token = await stack.b24.frameToken(stack.portal.memberId, userId);
    const response = await fetch(`${stack.server.url}/api/checklist/default-line`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token.accessToken}`, 'x-member-id': stack.portal.memberId, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as { error?: string } & Partial<ChecklistResponse> };
  }

  it('ticks each step from the real state, in order of setup', async () => {
    expect(await checklist()).toEqual({ connect: false, bind: false, defaultLine: false, defaultLineBy: null, testCall: false, done: false });

    await connectPbx(stack);
    expect(await checklist()).toMatchObject({ connect: true, bind: false, done: false });

    await frameApi(stack, stack.portal.adminId, 'POST', '/bindings/auto', { dryRun: false });
    expect(await checklist()).toMatchObject({ connect: true, bind: true, done: false });

    const confirmed = await put(stack.portal.adminId, { confirmed: true });
    expect(confirmed.status).toBe(200);
    expect(confirmed.body).toMatchObject({ defaultLine: true, defaultLineBy: 'admin', done: false });

    // A call to Alice's extension: registered in Bitrix24, the last step ticks.
    await stack.pbx.scenario('inbound-answered', { from: stack.portal.contact.phone, to: '1001', talkSeconds: 1, wait: true });
    const until = Date.now() + 15_000;
    while (!(await checklist()).testCall) {
      if (Date.now() > until) throw new Error('the test call did not tick');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(await checklist()).toEqual({ connect: true, bind: true, defaultLine: true, defaultLineBy: 'admin', testCall: true, done: true });
    // Every employee may read it; it says nothing secret.
    expect((await checklist(stack.portal.userId)).done).toBe(true);

    expect((await put(stack.portal.adminId, { confirmed: false })).body).toMatchObject({ defaultLine: false, defaultLineBy: null, done: false });
  }, 60_000);

  it('refuses the tick from a non-admin (403) and a malformed body (400)', async () => {
    expect((await put(stack.portal.userId, { confirmed: true })).status).toBe(403);
    for (const body of [{}, { confirmed: 'yes' }, { confirmed: true, extra: 1 }]) {
      const answer = await put(stack.portal.adminId, body);
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('BAD_REQUEST');
    }
    expect((await checklist()).defaultLine).toBe(false);
  });
});
