import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { AppError } from '../errors.js';

/** The built Vue client (vite build → dist/client): the app page, the call card's own page and the installer page. */
export interface ClientFiles {
  dir: string;
  appHtml(): string;
  /** The CALL_CARD placement's page: a lighter entry without the UI kit (issue 12 point 9). */
  callCardHtml(): string;
  installHtml(): string;
}

const APP_CANDIDATES = ['client/index.html', 'index.html'];

function firstExisting(dir: string, names: string[]): string | undefined {
  return names.map((n) => resolve(dir, n)).find((p) => existsSync(p));
}

/** Read on demand (and kept) so a build done after start is picked up, and a missing build is a clear error. */
export function clientFiles(dir: string): ClientFiles {
  const cache = new Map<string, string>();
  function read(kind: string, names: string[]): string {
    const hit = cache.get(kind);
    if (hit !== undefined) return hit;
    const path = firstExisting(dir, names);
    if (!path) throw new AppError('CLIENT_NOT_BUILT', `the web client is not built (${dir}): run "npm run build"`, 503);
    const html = readFileSync(path, 'utf8');
    cache.set(kind, html);
    return html;
  }
  return {
    dir,
    appHtml: () => read('app', APP_CANDIDATES),
    callCardHtml: () => read('call-card', ['client/call-card.html']),
    installHtml: () => read('install', ['install.html']),
  };
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
