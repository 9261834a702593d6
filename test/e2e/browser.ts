import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Frame, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
export const SKIP_REASON = `browser tests skipped: ${CHROMIUM} is missing (Debian package "chromium"; scripts/ensure-chromium.sh installs it as root)`;

export const SCREENSHOTS = join(import.meta.dirname, 'screenshots');

/** Debian's Chromium, headless, with a fresh profile and no network chatter of its own (never a downloaded browser). */
export async function launchBrowser(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = await mkdtemp(join(tmpdir(), 'pbxb24-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    viewport: { width: 1100, height: 900 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** The app's frame inside the parent-window page, once it has loaded. */
export async function appFrame(page: Page): Promise<Frame> {
  const handle = await page.waitForSelector('#app-host iframe', { timeout: 15_000 });
  const frame = await handle.contentFrame();
  if (!frame) throw new Error('the app iframe has no frame');
  await frame.waitForSelector('#app [data-testid], #app [role="alert"]', { timeout: 20_000 });
  return frame;
}

export interface ApiResponseSeen {
  url: string;
  status: number;
  body: string;
}

/** Records every /api response the page sees, so a test can assert that no secret ever reached the browser. */
export function watchApi(context: BrowserContext): ApiResponseSeen[] {
  const seen: ApiResponseSeen[] = [];
  context.on('response', (response) => {
    if (!new URL(response.url()).pathname.startsWith('/api/')) return;
    const type = response.headers()['content-type'] ?? '';
    if (!type.includes('json') && !type.includes('text')) {
      seen.push({ url: response.url(), status: response.status(), body: '' });
      return;
    }
    void response.text().then(
      (body) => seen.push({ url: response.url(), status: response.status(), body }),
      () => seen.push({ url: response.url(), status: response.status(), body: '' }),
    );
  });
  return seen;
}

/** Fails with the offending URL when a secret shows up in any /api response body. */
export function assertNoSecrets(seen: ApiResponseSeen[], secrets: string[]): void {
  const real = secrets.filter((s) => s.length >= 6);
  for (const response of seen) {
    for (const secret of real) {
      if (response.body.includes(secret)) throw new Error(`a secret reached the browser in ${response.url}`);
    }
  }
}
