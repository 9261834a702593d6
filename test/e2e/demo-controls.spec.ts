/**
 * Issue 12 point 12, the demo's controls in a browser: "Hang up" ends a call at any moment (ringing, talking, on hold,
 * while the transfer target rings); the transfer button says what the emulator does (a blind transfer, 30013);
 * the click-to-call button goes through Bitrix24's telephony event to the product, which dials through the PBX; the
 * controls speak the page's language (en/ru/zh, like the app frame). Screenshot: test/e2e/screenshots/demo-controls-ru.png.
 */
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { appFrame, screenshot } from './browser.js';
import { demoInBrowserForThisFile } from './demo-in-browser.js';
import { browserTestsCanRun } from './browser-ready.js';
import { eventually } from './wait.js';

const CAN_RUN = browserTestsCanRun();

describe.skipIf(!CAN_RUN)('the demo controls (browser)', () => {
  const opened = demoInBrowserForThisFile();

  /** Starts a demo call parked at a moment (the page's own call route, with the emulator's hold point). */
  async function callParkedAt(page: Page, kind: 'answered' | 'transfer', holdAt?: 'ringing' | 'on-hold' | 'transfer'): Promise<string> {
    const answer = await page.evaluate(async (body) => {
      const response = await fetch('/demo/api/call', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return (await response.json()) as { callId: string };
    }, { kind, holdAt, record: false });
    await eventually(async () => (await opened.demo.stack.pbx.liveCalls()).held.includes(answer.callId), `call ${answer.callId} reaching ${holdAt ?? 'talking'}`);
    return answer.callId;
  }

  // First, while no call is live: the page opens the call card over the settings for a call in progress.
  it('speaks the chosen language: the controls and the app frame in Russian, the switch offers en/ru/zh', async () => {
    const page = await opened.browser.context.newPage();
    await page.goto(`${opened.demo.url}?lang=ru`);
    const frame = await appFrame(page);
    const linkState = frame.locator('[data-testid="link-state"]');
    await linkState.waitFor();
    await eventually(async () => (await linkState.textContent())?.trim() === 'Подключено', 'the app frame in Russian');
    await page.getByRole('button', { name: 'Положить трубку', exact: true }).click();
    await page.getByText('На линии нет звонков.').waitFor();
    expect(await page.getByRole('button', { name: /вслепую на Bob Jones/ }).count()).toBe(1);
    expect(await page.getByRole('navigation', { name: 'Язык' }).getByRole('link').allTextContents()).toEqual(['EN', 'RU', 'ZH']);
    await screenshot(page, 'demo-controls-ru');
    await page.getByRole('link', { name: 'ZH' }).click();
    await page.getByRole('button', { name: '挂断', exact: true }).waitFor();
    await page.close();
  }, 60_000);

  it('"Hang up" ends the call while ringing, talking, on hold and during the transfer', async () => {
    const page = await opened.browser.context.newPage();
    await page.goto(opened.demo.url);
    await appFrame(page);
    const moments = [
      { kind: 'answered', holdAt: 'ringing', status: 'RING' },
      { kind: 'answered', holdAt: undefined, status: 'ANSWERED' },
      { kind: 'answered', holdAt: 'on-hold', status: 'HOLD' },
      { kind: 'transfer', holdAt: 'transfer', status: 'RING' },
    ] as const;
    for (const moment of moments) {
      const callId = await callParkedAt(page, moment.kind, moment.holdAt);
      const live = (await opened.demo.stack.pbx.liveCalls()).calls.find((c) => c.call_id === callId);
      expect(JSON.stringify(live?.members), `${moment.holdAt ?? 'talking'}: the PBX shows the call in that state`).toContain(moment.status);
      await page.getByRole('button', { name: 'Hang up', exact: true }).click();
      await page.getByText('Hung up 1 call(s).').waitFor();
      await eventually(async () => (await opened.demo.stack.pbx.liveCalls()).calls.every((c) => c.call_id !== callId), `call ${callId} gone from the PBX`);
      await eventually(async () => (await opened.demo.stack.b24.calls(opened.demo.stack.portal.memberId)).some((c) => c.finished !== null && c.phoneNumber === opened.demo.stack.portal.contact.phone && c.callId !== undefined), 'the call finished in Bitrix24');
    }
    await page.getByRole('button', { name: 'Hang up', exact: true }).click();
    await page.getByText('No call is on the line.').waitFor();
    await page.close();
  }, 120_000);

  it('labels the transfer as the emulator does it: a blind transfer to Bob (30013, you leave the call)', async () => {
    const page = await opened.browser.context.newPage();
    await page.goto(opened.demo.url);
    const button = page.getByRole('button', { name: 'John Doe calls · you answer, then blind transfer to Bob Jones (1002)' });
    await button.click();
    await page.getByText(/: ringing \(PBX call /).waitFor();
    const status = (await page.locator('#demo-status').textContent()) ?? '';
    const callId = /PBX call ([^)]+)\)/.exec(status)?.[1] ?? '';
    const transfer = await opened.demo.stack.pbx.waitForEvent((e) => e.type === 30013 && e.callId === callId, 15_000);
    expect(transfer.callId).toBe(callId);
    await page.close();
  }, 60_000);

  it('click-to-call: the button plays Bitrix24\'s number click, the product dials through the PBX', async () => {
    const page = await opened.browser.context.newPage();
    await page.goto(opened.demo.url);
    await opened.demo.stack.pbx.clearRequests();
    await page.getByRole('button', { name: 'Click John Doe’s number in the CRM (click-to-call)' }).click();
    await page.getByText(`Bitrix24 asked the app to call ${opened.demo.stack.portal.contact.phone}`, { exact: false }).waitFor();
    await eventually(async () => (await opened.demo.stack.pbx.requests()).some((r) => r.path.endsWith('/call/dial')), 'the product asked the PBX to dial');
    const dial = (await opened.demo.stack.pbx.requests()).find((r) => r.path.endsWith('/call/dial'));
    expect(JSON.stringify(dial)).toContain('1001');
    await page.close();
  }, 60_000);

});
