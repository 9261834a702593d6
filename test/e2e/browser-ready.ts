import { hasChromium, SKIP_REASON } from './browser.js';
import { clientBuilt } from './stub-api.js';

/**
 * Browser tests need Debian's Chromium and the built client (dist/client): without either a spec skips, and says why
 * once, so a skipped run is never mistaken for a passing one.
 */
export function browserTestsCanRun(): boolean {
  const canRun = hasChromium && clientBuilt();
  if (!canRun) console.warn(hasChromium ? 'browser tests skipped: the client is not built (npm run build)' : SKIP_REASON);
  return canRun;
}
