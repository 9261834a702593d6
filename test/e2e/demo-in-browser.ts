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
