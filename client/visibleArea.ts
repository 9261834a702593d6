/**
 * Where in our frame the person is looking, so a dialog opens there (issue 12 point 1).
 *
 * Bitrix24 grows the app's frame to its content (App.vue → fitWindow), so the frame's own viewport is the whole,
 * long page, and a dialog centred in it lands far below what the admin sees. Bitrix24's frame protocol cannot tell
 * the app where the parent page is scrolled: the parent's command list (BX.rest.AppLayout.MessageInterface in the
 * portal's rest/applayout.js: getInitData, resizeWindow, setScroll, setTitle, …; mirrored by the SDK's
 * MessageCommands) has `setScroll` to scroll the parent but no command that reads its scroll position or the frame's
 * place in the page. The browser can: an IntersectionObserver without a root measures against the top-level
 * viewport, also from a cross-origin frame, and its intersectionRect is the part of our page that is on screen, in
 * our own viewport's coordinates (https://w3c.github.io/IntersectionObserver/#intersectionobserverentry).
 *
 * The band is kept in two CSS variables on <html>, read by the dialog rule in styles/main.css:
 * --app-visible-top and --app-visible-height (px).
 */

export interface VisibleBand {
  top: number;
  height: number;
}

/** The part of `target` on screen, in our viewport's coordinates; null when none of it is. */
export function measureVisibleBand(target: Element): Promise<VisibleBand | null> {
  return new Promise((resolve) => {
    // The first callback after observe() always comes, with the current intersection; one reading is all we need.
    const observer = new IntersectionObserver((entries) => {
      observer.disconnect();
      const entry = entries[entries.length - 1];
      if (!entry || !entry.isIntersecting || entry.intersectionRect.height <= 0) {
        resolve(null);
        return;
      }
      resolve({ top: entry.intersectionRect.top, height: entry.intersectionRect.height });
    });
    observer.observe(target);
  });
}

function apply(root: HTMLElement, band: VisibleBand | null): void {
  if (!band) {
    root.style.removeProperty('--app-visible-top');
    root.style.removeProperty('--app-visible-height');
    return;
  }
  root.style.setProperty('--app-visible-top', `${Math.round(band.top)}px`);
  root.style.setProperty('--app-visible-height', `${Math.round(band.height)}px`);
}

const DIALOG = '[role="dialog"], [role="alertdialog"]';

/** A dialog added itself, or inside a portal added to <body> (deep searches only there: lists add many nodes). */
function addsDialog(record: MutationRecord, body: HTMLElement): boolean {
  return [...record.addedNodes].some((node) =>
    node instanceof Element && (node.matches(DIALOG) || (record.target === body && node.querySelector(DIALOG) !== null)));
}

/**
 * Keeps the band current: measured on every press, key and focus change (a dialog opens after one of them, so the band
 * is usually right before it renders) and again when a dialog is added to the page (the reading then corrects it).
 * Returns the function that stops it.
 */
export function followVisibleBand(doc: Document = document): () => void {
  const root = doc.documentElement;
  let pending = false;
  const measure = (): void => {
    if (pending) return;
    pending = true;
    void measureVisibleBand(root).then((band) => {
      pending = false;
      apply(root, band);
    });
  };
  const events = ['pointerdown', 'keydown', 'focusin'] as const;
  for (const name of events) doc.addEventListener(name, measure, { capture: true, passive: true });
  const view = doc.defaultView;
  view?.addEventListener('resize', measure);
  const dialogs = new MutationObserver((records) => {
    if (records.some((r) => addsDialog(r, doc.body))) measure();
  });
  dialogs.observe(doc.body, { childList: true, subtree: true });
  measure();
  return () => {
    for (const name of events) doc.removeEventListener(name, measure, { capture: true });
    view?.removeEventListener('resize', measure);
    dialogs.disconnect();
  };
}
