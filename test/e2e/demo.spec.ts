/**
 * `npm run demo` in a browser: the /demo page on the product's port, a call button, the call card popping up for the
 * admin, the call landing in John Doe's "Calls" tab. UPDATE_DEMO_SCREENSHOT=1 also refreshes docs/screenshots/demo.png.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appFrame, screenshot, SCREENSHOTS } from './browser.js';
import { demoInBrowserForThisFile } from './demo-in-browser.js';
import { browserTestsCanRun } from './browser-ready.js';

const CAN_RUN = browserTestsCanRun();

describe.skipIf(!CAN_RUN)('the demo page (browser)', () => {
  const opened = demoInBrowserForThisFile();

  it('rings the emulated PBX from a button: the call card pops up, then the call is in the contact tab', async () => {
    const page = await opened.browser.context.newPage();
    await page.goto(opened.demo.url);
    let frame = await appFrame(page);
    await frame.locator('[data-testid="link-state"]').waitFor();
    expect((await frame.locator('[data-testid="link-state"]').textContent())?.trim()).toBe('Connected');

    await page.getByRole('button', { name: /John Doe calls · you answer \(stays on the line/ }).click();
    await page.waitForSelector('#app-host iframe[data-placement="CALL_CARD"]', { timeout: 15_000 });
    frame = await appFrame(page);
    await frame.getByText(`Call with ${opened.demo.stack.portal.contact.phone}`).waitFor();
    // The card leads with who is calling (issue 12 point 5): the contact's name, never "Contact #1".
    await frame.locator('[data-testid="caller-name"]').getByText(opened.demo.stack.portal.contact.name, { exact: true }).waitFor();
    await screenshot(page, 'demo');
    if (process.env.UPDATE_DEMO_SCREENSHOT === '1') {
      const docs = join(import.meta.dirname, '..', '..', 'docs', 'screenshots');
      await mkdir(docs, { recursive: true });
      await copyFile(join(SCREENSHOTS, 'demo.png'), join(docs, 'demo.png'));
    }

    await page.getByRole('button', { name: 'Hang up', exact: true }).click();
    await page.getByText(/Hung up 1 call/).waitFor();
    await page.getByRole('button', { name: /contact tab/ }).click();
    await page.waitForSelector('#app-host iframe[data-placement="CRM_CONTACT_DETAIL_TAB"]');
    frame = await appFrame(page);
    const row = frame.locator('[data-testid="call-row"]').first();
    await row.waitFor({ timeout: 15_000 });
    await expectEventually(async () => /Answered/.test((await row.textContent()) ?? ''));
    await screenshot(page, 'demo-timeline');
    await page.close();
  }, 60_000);
});

async function expectEventually(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
