import { afterAll, beforeAll } from 'vitest';
import { startDemo, type Demo } from '../emulators/demo.js';
import { freePort } from '../integration/foundation/server-under-test.js';
import { launchBrowser } from './browser.js';

export type Browser = Awaited<ReturnType<typeof launchBrowser>>;

/**
 * `npm run demo` as the browser tests open it: the demo on a free port with the emulated PBX at full speed (so calls
 * play out in seconds), and a fresh headless Chromium. `fresh` is the portal a new admin finds (nothing set up).
 */
export async function startDemoInBrowser(opts: { fresh?: boolean } = {}): Promise<{ demo: Demo; browser: Browser }> {
  const demo = await startDemo({ port: await freePort(), pbxSpeed: 1000, logLevel: process.env.TEST_LOG_LEVEL ?? 'silent', ...opts });
  try {
    return { demo, browser: await launchBrowser() };
  } catch (error) {
    await demo.close();
    throw error;
  }
}

/**
 * The demo and a browser for every test of the calling file: started before the first, closed after the last (the
 * browser first). Read `.demo` and `.browser` inside the tests.
 */
export function demoInBrowserForThisFile(opts: { fresh?: boolean } = {}): { readonly demo: Demo; readonly browser: Browser } {
  let started: { demo: Demo; browser: Browser } | undefined;
  beforeAll(async () => {
    started = await startDemoInBrowser(opts);
  }, 60_000);
  afterAll(async () => {
    await started?.browser.close();
    await started?.demo.close();
  }, 30_000);
  const running = (): { demo: Demo; browser: Browser } => {
    if (started === undefined) throw new Error('the demo is used before beforeAll started it');
    return started;
  };
  return {
    get demo() {
      return running().demo;
    },
    get browser() {
      return running().browser;
    },
  };
}
