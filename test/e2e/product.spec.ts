/**
 * The product in a browser, the way people meet it: the built client inside the emulated Bitrix24 window, the real
 * server (startServer) and both emulators. Each test saves a screenshot under test/e2e/screenshots/ and asserts on
 * what a person sees; every /api response the browser got is checked for secrets at the end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Frame, Page } from 'playwright-core';
import { appFrame, assertNoSecrets, screenshot, watchApi, type ApiResponseSeen } from './browser.js';
import { closeInOrder, openBitrix24Window, type Browser, type ParentWindow } from './bitrix24-window.js';
import { browserTestsCanRun } from './browser-ready.js';
import { eventually, expectText } from './wait.js';
import { startStack, type Stack } from './stack.js';

const CAN_RUN = browserTestsCanRun();

describe.skipIf(!CAN_RUN)('the app in Bitrix24 (browser, real server, both emulators)', () => {
  let stack: Stack;
  let parent: ParentWindow;
  let browser: Browser;
  let seen: ApiResponseSeen[];
  /** Console reports of the browser refusing something under the product's Content-Security-Policy. */
  const cspViolations: string[] = [];
  /** The CSP of every app page the frames loaded from the product. */
  const pagePolicies: string[] = [];

  beforeAll(async () => {
    stack = await startStack();
    ({ parent, browser } = await openBitrix24Window(stack));
    seen = watchApi(browser.context);
    browser.context.on('console', (message) => {
      if (/content.security.policy/i.test(message.text())) cspViolations.push(message.text());
    });
    browser.context.on('response', (response) => {
      const url = new URL(response.url());
      if (url.origin === new URL(stack.server.url).origin && (url.pathname === '/' || url.pathname.startsWith('/placement/'))) {
        pagePolicies.push(response.headers()['content-security-policy'] ?? '');
      }
    });
  }, 60_000);

  afterAll(() => closeInOrder(browser, parent, stack), 30_000);

  async function open(userId: number, placement: string, options: Record<string, string> = {}, lang = 'en'): Promise<{ page: Page; frame: Frame }> {
    const page = await browser.context.newPage();
    const query = new URLSearchParams({
      member: stack.portal.memberId, user: String(userId), admin: userId === stack.portal.adminId ? '1' : '0', lang, placement, options: JSON.stringify(options),
    });
    await page.goto(`${parent.url}?${query.toString()}`);
    return { page, frame: await appFrame(page) };
  }

  it('an admin connects the PBX, auto-binds users, turns on auto-create and contact sync, and saves', async () => {
    const { page, frame } = await open(stack.portal.adminId, 'DEFAULT');
    const connection = frame.locator('[data-testid="connection-section"]');
    await connection.getByLabel('PBX address').fill(stack.pbx.url);
    await connection.getByLabel('Client ID').fill(stack.pbx.clientId);
    await connection.getByLabel('Client secret').fill(stack.pbx.clientSecret);
    await connection.getByRole('button', { name: 'Test connection' }).click();
    await expectText(frame.locator('[data-testid="test-result"]'), /Connected to the PBX: \d+ extensions found\./);
    await connection.getByRole('button', { name: 'Save connection' }).click();
    // Issue 12 point 3: Save tests first and turns a freshly connected PBX on (no switch to find).
    await expectText(connection, /Saved and turned on: the PBX accepted the connection\./);
    expect(await connection.getByRole('switch', { name: 'Enable integration' }).getAttribute('aria-checked')).toBe('true');
    await expectText(frame.locator('[data-testid="link-state"]'), /^Connected$/, 20_000);

    // The sections are tabs (issue 12 point 6).
    await frame.getByRole('tab', { name: 'Users' }).click();
    const users = frame.locator('[data-testid="users-section"]');
    await users.getByRole('button', { name: 'Auto-bind' }).click();
    const preview = frame.locator('[data-testid="auto-bind-preview"]');
    await expectText(preview, /Alice Smith → 1001 \(by e-mail\)/);
    await expectText(preview, /Carol White → 1003 \(by e-mail\)/);
    await preview.getByRole('button', { name: /^Apply changes \(\d+\)$/ }).click();
    await expectText(users, /3 of \d+ users bound/);

    await frame.getByRole('tab', { name: 'Auto-create' }).click();
    const autoCreate = frame.locator('[data-testid="auto-create-section"]');
    await autoCreate.getByRole('switch', { name: 'Create records for unknown numbers' }).click();
    await autoCreate.getByRole('button', { name: 'Save' }).click();
    await expectText(autoCreate, /Saved\./);

    await frame.getByRole('tab', { name: 'Contact sync' }).click();
    const sync = frame.locator('[data-testid="contact-sync-section"]');
    await sync.getByLabel('New phonebook').fill('Bitrix24 CRM');
    await sync.getByRole('button', { name: 'Create' }).click();
    await expectText(sync.locator('[data-testid="phonebook-select"]'), /Bitrix24 CRM/);
    await sync.getByRole('switch', { name: 'Sync contacts to the PBX' }).click();
    await sync.getByRole('button', { name: 'Save' }).click();
    await expectText(sync, /Saved\./);
    await screenshot(page, 'admin-settings');

    // What a person sees after coming back: the tab they were on, and the choices stuck.
    await page.reload();
    const again = await appFrame(page);
    await again.locator('[data-testid="contact-sync-section"]').waitFor();
    expect(await again.getByRole('switch', { name: 'Sync contacts to the PBX' }).getAttribute('aria-checked')).toBe('true');
    await again.getByRole('tab', { name: 'Auto-create' }).click();
    expect(await again.getByRole('switch', { name: 'Create records for unknown numbers' }).getAttribute('aria-checked')).toBe('true');
    await again.getByRole('tab', { name: 'Connection' }).click();
    expect(await again.getByRole('switch', { name: 'Enable integration' }).getAttribute('aria-checked')).toBe('true');
    await page.close();
  }, 60_000);

  it('a non-admin sees their own binding and status, and cannot change settings', async () => {
    const { page, frame } = await open(stack.portal.userId, 'DEFAULT');
    await frame.locator('[data-testid="own-status"]').waitFor();
    expect(await frame.locator('[data-testid="own-extension"]').textContent()).toBe('1003');
    expect(await frame.locator('[data-testid="connection-section"]').count()).toBe(0);
    await expectText(frame.locator('[data-testid="own-status"]'), /Only a Bitrix24 administrator can change these settings\./);
    // Even with a valid frame token of this user, the server refuses the change.
    const token = await stack.b24.frameToken(stack.portal.memberId, stack.portal.userId);
    const refused = await fetch(`${stack.server.url}/api/settings`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token.accessToken}`, 'x-member-id': stack.portal.memberId, 'content-type': 'application/json' },
      body: JSON.stringify({ enabled: false }),
    });
    expect(refused.status).toBe(403);
    await screenshot(page, 'non-admin');
    await page.close();
  }, 60_000);

  it("an inbound call shows up in the contact's timeline tab with a playable recording", async () => {
    const { memberId, contact, agents } = stack.portal;
    await stack.pbx.scenario('inbound-answered', { from: contact.phone, to: '1001', record: true, talkSeconds: 3, wait: true });
    await eventually(async () => (await stack.b24.calls(memberId)).some((c) => c.crmEntityId === contact.id && c.records.length > 0), 'the call logged with its recording', 30_000);

    const alice = agents[0]?.id ?? 0;
    const { page, frame } = await open(alice, 'CRM_CONTACT_DETAIL_TAB', { ID: String(contact.id) });
    const row = frame.locator('[data-testid="call-row"]').first();
    await expectText(row, /Inbound call/);
    await expectText(row, /Answered/);
    await expectText(row, /answered by .*1001/);
    await row.getByRole('button', { name: 'Play recording' }).click();
    const audio = row.locator('audio');
    await audio.waitFor();
    await eventually(async () => audio.evaluate((el) => (el as HTMLAudioElement).readyState >= 1 && (el as HTMLAudioElement).duration > 0), 'the recording playable', 10_000);
    const duration = await audio.evaluate((el) => (el as HTMLAudioElement).duration);
    expect(duration).toBeGreaterThan(1);
    await screenshot(page, 'timeline-tab');
    await page.close();
  }, 60_000);

  it("the call card tab shows the caller's history", async () => {
    const { memberId, contact, agents } = stack.portal;
    const [registered] = await stack.b24.calls(memberId);
    // Open items: what the agent still has to do with this caller; closed and completed ones stay out.
    await stack.b24.seedCrm(memberId, 'DEAL', { TITLE: 'Support renewal 2027', CONTACT_ID: contact.id, STAGE_ID: 'EXECUTING', OPPORTUNITY: 2400, CURRENCY_ID: 'USD' });
    await stack.b24.seedCrm(memberId, 'DEAL', { TITLE: 'Old hardware order', CONTACT_ID: contact.id, STAGE_ID: 'WON', OPPORTUNITY: 900, CURRENCY_ID: 'USD' });
    const communications = [{ VALUE: contact.phone, ENTITY_ID: contact.id, ENTITY_TYPE_ID: 3 }];
    await stack.b24.seedActivity(memberId, {
      OWNER_TYPE_ID: 3, OWNER_ID: contact.id, TYPE_ID: 2, SUBJECT: 'Call back about the quote', COMPLETED: 'N',
      START_TIME: '2099-12-03T10:00:00+00:00', END_TIME: '2099-12-03T10:30:00+00:00', COMMUNICATIONS: communications,
    });
    await stack.b24.seedActivity(memberId, {
      OWNER_TYPE_ID: 3, OWNER_ID: contact.id, TYPE_ID: 2, SUBJECT: 'Intro call', COMPLETED: 'Y', START_TIME: '2026-01-05T10:00:00+00:00', COMMUNICATIONS: communications,
    });
    const { page, frame } = await open(agents[0]?.id ?? 0, 'CALL_CARD', {
      CALL_ID: String(registered?.callId ?? 'externalCall.x'), PHONE_NUMBER: contact.phone, LINE_NUMBER: 'pbx', CRM_ENTITY_TYPE: 'CONTACT',
      CRM_ENTITY_ID: String(contact.id), CALL_DIRECTION: 'incoming', CALL_STATE: 'connected',
    });
    await expectText(frame.locator('[data-testid="call-card-view"]'), new RegExp(`Call with \\${contact.phone}`));
    await expectText(frame.locator('[data-testid="call-card-view"]'), /Last calls/);
    // The card's own call (its CALL_ID) leads as a state; "Last calls" lists the number's other calls (none here).
    await expectText(frame.locator('[data-testid="call-state"]'), /Ended · talk time 0:03/);
    // Since issue 12 point 5 the card names the caller (a link to the record), never "Contact #<id>".
    await expectText(frame.locator('[data-testid="caller-name"]'), new RegExp(`^${contact.name}$`));
    expect(await frame.locator('[data-testid="call-card-view"]').textContent()).not.toMatch(/Contact #\d/);
    const openItems = frame.locator('[data-testid="open-items"]');
    await expectText(openItems, /Open items/);
    await expectText(frame.locator('[data-testid="open-deal"]'), /Support renewal 2027.*Stage: In progress.*\$2,400\.00/);
    await expectText(frame.locator('[data-testid="open-activity"]'), /Call.*Call back about the quote.*Due .*2099/);
    expect(await frame.locator('[data-testid="open-deal"]').count()).toBe(1);
    expect(await frame.locator('[data-testid="open-activity"]').count()).toBe(1);
    expect(await openItems.textContent()).not.toMatch(/Old hardware order|Intro call/);
    await screenshot(page, 'call-card');
    await page.close();

    // Deals and activities came in one batch; reopening the card within 30 s asks Bitrix24 nothing more.
    const openItemReads = async () => [
      ...(await stack.b24.requests({ memberId, method: 'crm.deal.list' })),
      ...(await stack.b24.requests({ memberId, method: 'crm.activity.list' })),
    ];
    const before = await openItemReads();
    expect(before.map((r) => [r.method, r.viaBatch])).toEqual([['crm.deal.list', true], ['crm.activity.list', true]]);
    const again = await open(agents[0]?.id ?? 0, 'CALL_CARD', {
      CALL_ID: String(registered?.callId ?? 'externalCall.x'), PHONE_NUMBER: contact.phone, LINE_NUMBER: 'pbx', CRM_ENTITY_TYPE: 'CONTACT',
      CRM_ENTITY_ID: String(contact.id), CALL_DIRECTION: 'incoming', CALL_STATE: 'connected',
    });
    await expectText(again.frame.locator('[data-testid="open-deal"]'), /Support renewal 2027/);
    expect(await openItemReads()).toHaveLength(2);
    await again.page.close();
  }, 60_000);

  it('switches to Russian and Chinese by LANG', async () => {
    for (const [lang, heading, name] of [['ru', 'Подключение', 'settings-ru'], ['sc', '连接', 'settings-zh']] as const) {
      const { page, frame } = await open(stack.portal.adminId, 'DEFAULT', {}, lang);
      await frame.getByRole('tab').first().click();
      await expectText(frame.locator('#connection-title'), new RegExp(`^${heading}$`));
      await screenshot(page, name);
      await page.close();
    }
  }, 60_000);

  it("the app ran under the product's CSP (frame-ancestors, script-src 'self') without a single violation", () => {
    expect(pagePolicies.length).toBeGreaterThan(0);
    for (const policy of pagePolicies) expect(policy).toMatch(/frame-ancestors [^;]+; ?|frame-ancestors [^;]+$/);
    for (const policy of pagePolicies) expect(policy).toContain("script-src 'self'");
    expect(cspViolations).toEqual([]);
  });

  it('no secret reached the browser in any /api response', async () => {
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(seen.length).toBeGreaterThan(10);
    assertNoSecrets(seen, stack.secrets);
  });
});
