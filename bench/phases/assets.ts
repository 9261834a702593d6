import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { atMost, info, type ResultRow } from '../lib/stats.js';

/**
 * What each placement downloads on its first open (issue 12 point 9), read from dist/client as built (`npm run build`,
 * which `npm run bench` runs first); builds and serves nothing itself. For a placement: its page (the call card's own
 * client/call-card.html, else the app page), the page's script, CSS and modulepreloads, every chunk they import
 * statically, then the placement's view chunk (main.ts preloads it) and its static imports — not the other views, not
 * the other languages (English is counted: it is in the entry), not chunks fetched later on demand (the recording
 * player). Bytes are those the server sends: the .br copy (scripts/precompress.ts), gzip beside it for browsers without
 * brotli; the page itself is counted too.
 */
const DIST = fileURLToPath(new URL('../../dist/client', import.meta.url));
const KB = 1024;

interface Placement {
  label: string;
  html: string;
  /** The view chunk main.ts preloads for it (file name prefix), if any. */
  view?: string;
  budgetKb?: number;
}

const PLACEMENTS: Placement[] = [
  // The call card has a page of its own (client/call-card.html): no UI kit, no view chunk to add.
  { label: 'call card (CALL_CARD)', html: 'client/call-card.html', budgetKb: 150 },
  { label: 'settings (app page)', html: 'client/index.html', view: 'SettingsView-', budgetKb: 350 },
  { label: 'CRM tab (timeline)', html: 'client/index.html', view: 'TimelineView-' },
  { label: 'installer', html: 'install.html' },
];

// `import{a as b}from"./x.js"` or `import"./x.js"`, not `import("./x.js")` (a lazy chunk).
const STATIC_IMPORT = /(?<![\w$.])import\s*(?:[^"'();]*?from\s*)?["']([^"']+\.js)["']/g;
const PAGE_ASSET = /<(?:script[^>]*\ssrc|link[^>]*\shref)="([^"]+\.(?:js|css))"/g;

function sizeOf(path: string): { raw: number; br: number; gzip: number } {
  const raw = statSync(path).size;
  const br = existsSync(`${path}.br`) ? statSync(`${path}.br`).size : raw;
  const gzip = existsSync(`${path}.gz`) ? statSync(`${path}.gz`).size : raw;
  return { raw, br, gzip };
}

/** The file and every chunk it imports statically, transitively (paths relative to dist/client). */
function withStaticImports(file: string, seen: Set<string>): void {
  if (seen.has(file)) return;
  seen.add(file);
  if (!file.endsWith('.js')) return;
  const code = readFileSync(resolve(DIST, file), 'utf8');
  for (const m of code.matchAll(STATIC_IMPORT)) {
    const spec = m[1] ?? '';
    withStaticImports(resolve('/', file, '..', spec).slice(1), seen);
  }
}

export function firstOpenFiles(placement: Placement, assetNames: readonly string[]): string[] {
  const html = readFileSync(resolve(DIST, placement.html), 'utf8');
  const seen = new Set<string>([placement.html]);
  for (const m of html.matchAll(PAGE_ASSET)) withStaticImports((m[1] ?? '').replace(/^\//, ''), seen);
  if (placement.view) {
    const chunk = assetNames.find((n) => n.startsWith(placement.view ?? '') && n.endsWith('.js'));
    if (!chunk) throw new Error(`no ${placement.view}*.js in dist/client/assets: the views are no longer split`);
    withStaticImports(`assets/${chunk}`, seen);
  }
  return [...seen];
}

export function measureAssets(log: (line: string) => void): ResultRow[] {
  for (const page of new Set(PLACEMENTS.map((p) => p.html))) {
    if (!existsSync(resolve(DIST, page))) throw new Error(`dist/client/${page} is missing: run "npm run build"`);
  }
  const assetNames = readdirSync(resolve(DIST, 'assets')).filter((n) => !/\.(?:br|gz)$/.test(n));
  const rows: ResultRow[] = [];
  for (const placement of PLACEMENTS) {
    const files = firstOpenFiles(placement, assetNames);
    const total = files.map((f) => sizeOf(resolve(DIST, f))).reduce((a, s) => ({ raw: a.raw + s.raw, br: a.br + s.br, gzip: a.gzip + s.gzip }), { raw: 0, br: 0, gzip: 0 });
    const css = files.filter((f) => f.endsWith('.css')).map((f) => sizeOf(resolve(DIST, f)).br).reduce((a, b) => a + b, 0);
    const kb = (n: number) => Math.round(n / KB);
    const note = `${files.length} files; gzip ${kb(total.gzip)} KB, uncompressed ${kb(total.raw)} KB; CSS ${kb(css)} KB of it (brotli)`;
    log(`assets: ${placement.label}: ${files.join(', ')}`);
    const section = 'client weight, first open (brotli)';
    rows.push(placement.budgetKb !== undefined
      ? atMost(section, placement.label, kb(total.br), 'KB', placement.budgetKb, note)
      : info(section, placement.label, kb(total.br), 'KB', note));
  }
  return rows;
}
