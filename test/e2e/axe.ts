import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AxeResults, RunOptions } from 'axe-core';
import type { BrowserContext, Frame, Page } from 'playwright-core';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface Finding {
  where: string;
  rule: string;
  impact: string;
  help: string;
  targets: string[];
}

/**
 * Runs axe-core in the page or frame and answers its critical and serious findings (issue 12 point 10). The script is
 * handed over by the DevTools protocol (evaluate), not a <script> tag, so the product's CSP (script-src 'self') is not
 * bent for the audit. Frames inside are audited on their own (iframes: false).
 */
export async function seriousFindings(target: Page | Frame, where: string): Promise<Finding[]> {
  await target.evaluate(`${AXE_SOURCE}\n;true`);
  const options: RunOptions = { resultTypes: ['violations'], iframes: false };
  const violations = await target.evaluate(async (opts) => {
    const axe = (window as unknown as { axe: { run(context: Document, options: unknown): Promise<AxeResults> } }).axe;
    const results = await axe.run(document, opts);
    return results.violations.map((v) => ({
      rule: v.id, impact: v.impact ?? '', help: v.help,
      targets: v.nodes.map((n) => `${n.target.join(' ')} (${(n.failureSummary ?? '').replace(/\s+/g, ' ').slice(0, 160)})`),
    }));
  }, options);
  return violations.filter((v) => v.impact === 'critical' || v.impact === 'serious').map((v) => ({ where, ...v }));
}

/** Every console error and uncaught page error of the context's pages, with the page's address. */
export function collectPageErrors(context: BrowserContext): string[] {
  const errors: string[] = [];
  const watch = (page: Page): void => {
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(`${page.url()}: console: ${message.text()} (${message.location().url})`);
    });
    page.on('pageerror', (error) => errors.push(`${page.url()}: pageerror: ${error.message}`));
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  return errors;
}
