/**
 * Issue 12 point 9: Tailwind scans only the UI kit components the client uses (the kit's own stylesheet scans all ~380,
 * which made the CSS 517 KB). What a customer cares about: a smaller stylesheet that still styles every kit component
 * on screen, including the ones a used component renders itself (a Button renders a Link and an Avatar).
 */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kitComponentsInUse, kitSourceDirectives } from '../../../scripts/kit-sources.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const KIT = resolve(ROOT, 'node_modules/@bitrix24/b24ui-nuxt/dist/runtime/components');

describe('UI kit sources for Tailwind', () => {
  it('lists the kit components our .vue files use and the ones they render, not the rest of the kit', () => {
    const used = kitComponentsInUse(resolve(ROOT, 'client'), KIT);
    expect(used).toEqual(expect.arrayContaining(['App', 'Button', 'Modal', 'Select', 'Link', 'Avatar', 'Toaster']));
    expect(used).not.toContain('Calendar');
    expect(used.length).toBeLessThan(60);
  });

  it('excludes the kit folders and names each component in use by its real path', () => {
    const lines = kitSourceDirectives(ROOT).split('\n');
    expect(lines[0]).toMatch(/^@source not ".*\/@bitrix24\/b24ui-nuxt\/dist\/runtime\/components";$/);
    expect(lines).toContainEqual(expect.stringMatching(/^@source ".*\/runtime\/components\/Button\.vue";$/));
    expect(lines.every((l) => !l.includes('../'))).toBe(true);
  });
});
