import { createApi, createHttp } from './api.js';
import { setApi } from './apiContext.js';
import { connectFrame, type Frame } from './frame.js';
import { loadAppI18n } from './i18n/index.js';
import { setPortalLinks } from './portalLinks.js';

/**
 * Start-up steps shared by the two entries (main.ts, the app page; call-card.ts, the light call card). Light on
 * purpose: nothing here may pull in the UI kit, or the call card's first open grows past its 150 KB budget.
 */

/** Connects to the Bitrix24 parent window and points the /api client and the portal links at it. */
export async function connectToPortal(): Promise<Frame> {
  const frame = await connectFrame();
  setApi(createApi(createHttp(frame)));
  setPortalLinks(frame);
  return frame;
}

/**
 * Says in the page that the app could not start. Opened outside Bitrix24 (no DOMAIN|PROTOCOL|APP_SID in window.name)
 * the SDK refuses to start: the browser's language is all there is to choose the words by.
 */
export async function showStartFailure(error: unknown): Promise<void> {
  const i18n = await loadAppI18n(window.navigator.language.slice(0, 2));
  const target = document.getElementById('app');
  if (!target) return;
  target.setAttribute('role', 'alert');
  target.className = 'p-4';
  target.textContent = `${i18n.global.t('app.frameFailed')} ${error instanceof Error ? error.message : ''}`;
}
