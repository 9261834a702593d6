import { startParentWindow } from '../emulators/parent-window/page.js';
import { launchBrowser } from './browser.js';
import type { Stack } from './stack.js';

export type ParentWindow = Awaited<ReturnType<typeof startParentWindow>>;
export type Browser = Awaited<ReturnType<typeof launchBrowser>>;

/**
 * The emulated Bitrix24 window in front of the stack's product (frame tokens minted by the emulated portal) and a fresh
 * headless Chromium to open it in: what a browser test needs before it opens a page as a portal user.
 */
export async function openBitrix24Window(stack: Stack): Promise<{ parent: ParentWindow; browser: Browser }> {
  const parent = await startParentWindow({ appUrl: stack.server.url, mintToken: (memberId, userId) => stack.b24.frameToken(memberId, userId) });
  try {
    return { parent, browser: await launchBrowser() };
  } catch (error) {
    await parent.close();
    throw error;
  }
}

/** Closes what a browser test started, in the order given (the browser before the product); what never started is skipped. */
export async function closeInOrder(...started: ({ close(): Promise<void> } | undefined)[]): Promise<void> {
  for (const thing of started) await thing?.close();
}
