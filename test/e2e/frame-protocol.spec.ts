/**
 * The built client inside the emulated Bitrix24 window, over the real SDK frame protocol: window.name, the form
 * POST, getInitData, resizeWindow and refreshAuth. /api is scripted here; the full product runs in product.spec.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startParentWindow } from '../emulators/parent-window/page.js';
import { appFrame, launchBrowser, screenshot } from './browser.js';
import { browserTestsCanRun } from './browser-ready.js';
import { startStubApi, type StubApi } from './stub-api.js';

const CAN_RUN = browserTestsCanRun();

const now = Date.UTC(2026, 10, 20, 10, 0);
const call = {
  id: 'call-1', direction: 'inbound', origin: 'pbx', external: '+14155550100', did: '+14155550000', via: null, startedAt: now, endedAt: now + 60_000,
  talkSeconds: 75, result: 'answered', rang: [{ extension: '1001', userId: 1, userName: 'Anna Admin' }],
  answeredBy: { extension: '1001', userId: 1, userName: 'Anna Admin' }, crm: { entityType: 'CONTACT', entityId: 7 },
  recording: { available: true, state: 'attached', url: null }, live: false,
};

describe.skipIf(!CAN_RUN)('parent-window emulator ↔ client (browser)', () => {
  let api: StubApi;
  let tokens = 0;
  let parent: { url: string; close(): Promise<void> };
  let browser: Awaited<ReturnType<typeof launchBrowser>>;

  beforeAll(async () => {
    api = await startStubApi({
      'GET /status': () => ({
        portal: { memberId: 'm-1', domain: 'acme.bitrix24.test', installed: true, needsReinstall: null, ratePlan: 'standard', lineNumber: 'pbx-1' },
        user: { id: 2, isAdmin: false, extension: '1002' }, enabled: true,
        pbx: { configured: true, state: 'connected', lastError: null, lastEventAt: null }, outbox: { pending: 0, failed: 0, oldestPendingAt: null },
      }),
      'GET /calls': () => ({ calls: [call], nextBefore: null }),
    });
    parent = await startParentWindow({
      appUrl: api.url,
      mintToken: async () => {
        tokens += 1;
        return { accessToken: `frame-token-${tokens}`, refreshToken: `refresh-${tokens}`, expiresIn: 3600 };
      },
    });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await parent?.close();
    await api?.close();
  });

  it('hands the app its placement, language and auth; the app calls /api with them', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${parent.url}?member=m-1&user=2&lang=ru&placement=DEFAULT`);
    const frame = await appFrame(page);
    await frame.waitForSelector('[data-testid="own-status"]');
    expect(await frame.textContent('[data-testid="own-status"]')).toContain('Ваш внутренний номер');
    expect(await frame.textContent('[data-testid="own-extension"]')).toBe('1002');
    const statusCall = api.requests.find((r) => r.path === '/status');
    expect(statusCall?.authorization).toMatch(/^Bearer frame-token-\d+$/);
    expect(statusCall?.memberId).toBe('m-1');
    await screenshot(page, 'frame-protocol-settings-ru');
    await page.close();
  });

  it('opens the CRM detail tab on the record from PLACEMENT_OPTIONS and resizes the frame to its content', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${parent.url}?member=m-1&user=2&lang=en&placement=CRM_CONTACT_DETAIL_TAB&options=${encodeURIComponent('{"ID":"7"}')}`);
    const frame = await appFrame(page);
    await frame.waitForSelector('[data-testid="call-row"]');
    expect(await frame.textContent('[data-testid="call-row"]')).toContain('answered by Anna Admin (1001)');
    const timelineCall = api.requests.filter((r) => r.path === '/calls').at(-1);
    expect(timelineCall).toBeDefined();
    await page.waitForFunction(() => (window as unknown as { parentWindow: { resizes: number[] } }).parentWindow.resizes.length > 0);
    const commands = await page.evaluate(() => (window as unknown as { parentWindow: { commands: { command: string }[] } }).parentWindow.commands.map((c) => c.command));
    expect(commands).toContain('getInitData');
    expect(commands).toContain('resizeWindow');
    await screenshot(page, 'frame-protocol-timeline');
    await page.close();
  });
});
