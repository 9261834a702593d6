/**
 * Issue 12 point 8, contact sync after Save, in a browser: the admin turns sync on and sees what it will do (records
 * are written when they call, nothing in bulk); after two calls the section counts one synced and one skipped with
 * its reason (no name); "Re-sync all" shows its progress and reaches done. Screenshot:
 * test/e2e/screenshots/contact-sync-after-save.png.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Frame } from 'playwright-core';
import { startParentWindow } from '../emulators/parent-window/page.js';
import { launchBrowser, screenshot } from './browser.js';
import { browserTestsCanRun } from './browser-ready.js';
import { expectText } from './wait.js';
import { connectPbx, frameApi } from './frame-api.js';
import { startStack, type Stack } from './stack.js';

const CAN_RUN = browserTestsCanRun();

/** A CRM contact with a phone but no name: the manual's rule skips it (a PBX contact needs a name). */
const NAMELESS_PHONE = '+15550177001';

describe.skipIf(!CAN_RUN)('contact sync after Save (browser)', () => {
  let stack: Stack;
  let parent: { url: string; close(): Promise<void> };
  let browser: Awaited<ReturnType<typeof launchBrowser>>;

  beforeAll(async () => {
    stack = await startStack();
    await stack.b24.seedCrm(stack.portal.memberId, 'CONTACT', { PHONE: [{ VALUE: NAMELESS_PHONE, VALUE_TYPE: 'WORK' }] });
    await connectPbx(stack);
    await frameApi(stack, stack.portal.adminId, 'POST', '/bindings/auto', { dryRun: false });
    parent = await startParentWindow({ appUrl: stack.server.url, mintToken: (memberId, userId) => stack.b24.frameToken(memberId, userId) });
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await parent?.close();
    await stack?.close();
  }, 30_000);

  async function openSettings(page: Awaited<ReturnType<typeof browser.context.newPage>>): Promise<Frame> {
    const query = new URLSearchParams({ member: stack.portal.memberId, user: String(stack.portal.adminId), admin: '1', lang: 'en', placement: 'DEFAULT', options: '{}' });
    await page.goto(`${parent.url}?${query.toString()}`);
    const handle = await page.waitForSelector('#app-host iframe', { timeout: 60_000, state: 'attached' });
    const frame = await handle.contentFrame();
    if (!frame) throw new Error('the app iframe has no frame');
    // The settings are tabs (issue 12 point 6): the admin opens Contact sync.
    await frame.getByRole('tab', { name: 'Contact sync' }).click({ timeout: 60_000 });
    await frame.locator('[data-testid="contact-sync-section"]').waitFor({ timeout: 60_000 });
    return frame;
  }

  it('says what sync will do after Save, counts synced and skipped with reasons, and re-syncs to done', async () => {
    const page = await browser.context.newPage();
    let frame = await openSettings(page);
    let sync = frame.locator('[data-testid="contact-sync-section"]');
    await expectText(sync.locator('[data-testid="sync-plan"]'), /Contact sync is off: nothing is written to the PBX\./);

    await sync.getByLabel('New phonebook').fill('Bitrix24 CRM');
    await sync.getByRole('button', { name: 'Create' }).click();
    await expectText(sync.locator('[data-testid="phonebook-select"]'), /Bitrix24 CRM/);
    await sync.getByRole('switch', { name: 'Sync contacts to the PBX' }).click();
    await sync.getByRole('button', { name: 'Save' }).click();
    const plan = sync.locator('[data-testid="sync-plan"]');
    await expectText(plan, /Each contact that calls a bound extension, or is called from one, is written to the phonebook “Bitrix24 CRM” after the call\. Nothing is copied in bulk\./);
    await expectText(plan, /Records without a phone number or a name are skipped/);
    await expectText(plan, /No record synced yet: the first call of a contact fills the phonebook\./);

    // Two customers call Alice (1001, bound by e-mail): John Doe is written, the nameless contact is skipped.
    await stack.pbx.scenario('inbound-answered', { from: stack.portal.contact.phone, to: '1001', talkSeconds: 2, ringSeconds: 1, wait: true });
    await stack.pbx.scenario('inbound-answered', { from: NAMELESS_PHONE, to: '1001', talkSeconds: 2, ringSeconds: 1, wait: true });
    const until = Date.now() + 20_000;
    while (((await frameApi(stack, stack.portal.adminId, 'GET', '/contact-sync')) as unknown[]).length < 2) {
      if (Date.now() > until) throw new Error('the two calls did not sync');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect((await stack.pbx.companyContacts()).map((c) => c.first_name)).toContain('John');

    await page.reload();
    frame = await openSettings(page);
    sync = frame.locator('[data-testid="contact-sync-section"]');
    await expectText(sync.locator('[data-testid="sync-counts"]'), /^Synced: 1 · skipped: 1 · failed: 0$/);
    expect(await sync.locator('[data-testid="sync-reasons"] li').allTextContents()).toEqual(['no name: 1']);

    await sync.getByRole('button', { name: 'Re-sync all synced contacts' }).click();
    await expectText(sync.locator('[data-testid="resync"]'), /Re-synced 1 of 1: 0 updated, 1 unchanged, 0 written again, 0 removed, 0 skipped, 0 failed/);
    await screenshot(page, 'contact-sync-after-save');
    await page.close();
  }, 180_000);
});
