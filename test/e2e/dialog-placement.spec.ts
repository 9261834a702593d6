/**
 * Issue 12 point 1: a dialog opens where the admin is looking.
 * Before: Bitrix24 grows the frame to the page's length, so the Disconnect dialog, centred in the frame, opened
 * ~1,100 px below the admin's view and only a grey overlay was on screen. After: the dialog is centred in the part of the
 * frame on screen (client/visibleArea.ts), wherever the parent page is scrolled.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { appFrame, screenshot, SCREENSHOTS } from './browser.js';
import { closeInOrder, openBitrix24Window, type Browser, type ParentWindow } from './bitrix24-window.js';
import { browserTestsCanRun } from './browser-ready.js';
import { startStack, type Stack } from './stack.js';
import { connectPbx } from './frame-api.js';

const CAN_RUN = browserTestsCanRun();

describe.skipIf(!CAN_RUN)('dialogs open where the admin looks (browser)', () => {
  let stack: Stack;
  let parent: ParentWindow;
  let browser: Browser;

  beforeAll(async () => {
    stack = await startStack();
    ({ parent, browser } = await openBitrix24Window(stack));
    await connectPbx(stack);
  }, 60_000);

  afterAll(() => closeInOrder(browser, parent, stack), 30_000);

  it('the Disconnect dialog lies inside the visible part of the Bitrix24 window, the page scrolled down', async () => {
    const page = await browser.context.newPage();
    // A short window: the settings frame is taller than it, so the admin has to scroll down to reach Disconnect.
    await page.setViewportSize({ width: 1100, height: 560 });
    const query = new URLSearchParams({ member: stack.portal.memberId, user: String(stack.portal.adminId), admin: '1', lang: 'en', placement: 'DEFAULT' });
    await page.goto(`${parent.url}?${query.toString()}`);
    const frame = await appFrame(page);
    const disconnect = frame.locator('[data-testid="disconnect"]');
    await disconnect.waitFor({ timeout: 20_000 });

    // The frame has grown past the window.
    const frameBox = await page.locator('#app-host iframe').boundingBox();
    expect(frameBox?.height ?? 0).toBeGreaterThan(900);
    // The admin scrolls the Bitrix24 page down as far as it goes while Disconnect stays in the window.
    const before = await disconnect.boundingBox();
    if (!before || !frameBox) throw new Error('Disconnect or the frame has no box');
    await page.evaluate((y) => window.scrollTo(0, y), before.y - 40);
    const scrolled = await page.evaluate(() => window.scrollY);
    expect(scrolled).toBeGreaterThan(100);
    const button = await disconnect.boundingBox();
    expect(button && button.y >= 0 && button.y + button.height <= 560).toBe(true);
    // So the middle of the frame, where a dialog centred in the frame would open, is outside the window.
    const frameMiddle = frameBox.y - scrolled + frameBox.height / 2;
    expect(frameMiddle < 0 || frameMiddle > 560).toBe(true);

    await disconnect.click();
    const dialog = frame.getByRole('dialog', { name: 'Disconnect the PBX?' });
    await dialog.waitFor();
    // Wait for the opening animation to settle before measuring.
    await frame.waitForFunction(() => [...document.querySelectorAll('[role="dialog"]')].every((d) => d.getAnimations().every((a) => a.playState !== 'running')));
    // boundingBox is in the top window's viewport: what the admin sees is 0…560.
    const box = await dialog.boundingBox();
    if (!box) throw new Error('the dialog has no box');
    expect(box.y).toBeGreaterThanOrEqual(0);
    expect(box.y + box.height).toBeLessThanOrEqual(560);
    expect(box.x).toBeGreaterThanOrEqual(0);
    expect(box.x + box.width).toBeLessThanOrEqual(1100);
    // Its buttons are on screen too, so the admin can answer it.
    const confirm = await dialog.getByRole('button', { name: 'Cancel' }).boundingBox();
    expect(confirm && confirm.y + confirm.height <= 560).toBe(true);
    // What the admin sees: the window's viewport, not the full page.
    await page.screenshot({ path: join(SCREENSHOTS, 'dialog-in-view.png') });

    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    await screenshot(page, 'dialog-closed');
    await page.close();
  }, 60_000);
});
