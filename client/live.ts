/**
 * Keeps an open frame live (issue 12 point 2: the PBX badge said "Connected" for 100 s after the PBX froze, and a
 * finished call stayed "In progress" until Refresh).
 *
 * Why a poll with ETag rather than server-sent events: every /api request carries the frame's Bitrix24 token in
 * headers (client/api.ts) and EventSource cannot send headers; the token must never go into a URL, and a signed
 * stream ticket plus a fetch-based stream reader would add a second auth path to secure and test. A conditional GET
 * reuses the one frame-auth path as it is, so one portal's frame can only ever read its own portal: the server's
 * ETag is a hash of the very answer it would send to that frame. Unchanged answers cost a 304 without a body. The
 * poll pauses while the frame is hidden (another Bitrix24 tab, a closed slider) and runs at once when it shows again.
 */

/** How often a visible frame asks; a frozen PBX shows within this plus the link's own detection (≤ 20 s). */
export const LIVE_POLL_MS = 4_000;

function hidden(): boolean {
  return typeof document !== 'undefined' && document.visibilityState === 'hidden';
}

/** Runs `task` every `everyMs` while the page is visible; the returned function stops it. A failed run is retried next tick. */
export function pollWhileVisible(task: () => Promise<void>, everyMs = LIVE_POLL_MS): () => void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let running = false;
  let stopped = false;

  const schedule = (): void => {
    if (stopped || timer !== null) return;
    timer = setTimeout(() => {
      timer = null;
      void tick();
    }, everyMs);
  };

  async function tick(): Promise<void> {
    if (stopped || running) return;
    if (hidden()) return; // resumed by the visibility listener
    running = true;
    try {
      await task();
    } catch {
      // The store keeps the error it met; the next tick tries again.
    } finally {
      running = false;
      schedule();
    }
  }

  const onVisibility = (): void => {
    if (hidden()) return;
    if (timer !== null) clearTimeout(timer);
    timer = null;
    void tick();
  };

  if (typeof document !== 'undefined') document.addEventListener('visibilitychange', onVisibility);
  schedule();
  return () => {
    stopped = true;
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (typeof document !== 'undefined') document.removeEventListener('visibilitychange', onVisibility);
  };
}
