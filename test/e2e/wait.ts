/**
 * Polling waits for browser tests: the page and the emulators move on their own clocks, so a test waits for what a
 * person would see (bounded), never for a fixed time.
 */
import type { Locator } from 'playwright-core';

/** Polls `check` until it gives a truthy value, which it returns; `what` names the wait in the error when time runs out. */
export async function eventually<T>(check: () => Promise<T | null | undefined | false>, what = 'condition', timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) throw new Error(`not in time: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Waits until the first element of `locator` has text (textContent, trimmed) matching `pattern`, and returns it. */
export function expectText(locator: Locator, pattern: RegExp, timeoutMs = 15_000): Promise<string> {
  return waitForText(async (waitMs) => ((await locator.first().textContent({ timeout: waitMs }).catch(() => '')) ?? '').trim(), pattern, timeoutMs);
}

/**
 * The same, on innerText: the text as laid out for a person (block elements apart, white space folded), not the DOM's
 * concatenated text nodes.
 */
export function expectLaidOutText(locator: Locator, pattern: RegExp, timeoutMs = 15_000): Promise<string> {
  return waitForText(async (waitMs) => (await locator.first().innerText({ timeout: waitMs }).catch(() => '')).replace(/\s+/g, ' ').trim(), pattern, timeoutMs);
}

/** `read` may wait up to the time left for its element to appear (a slow page is not an empty one). */
async function waitForText(read: (waitMs: number) => Promise<string>, pattern: RegExp, timeoutMs: number): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const text = await read(Math.max(1_000, until - Date.now()));
    if (pattern.test(text)) return text;
    if (Date.now() > until) throw new Error(`expected ${String(pattern)} in: ${text.slice(0, 500)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
