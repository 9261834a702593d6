import type { CallRow } from '../contract/api-shapes.js';

/** Talk time as m:ss (or h:mm:ss), the way phone logs show it. */
export function formatDuration(totalSeconds: number): string {
  const seconds = Math.max(0, Math.round(totalSeconds));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = String(seconds % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

export function formatDateTime(epochMs: number, locale: string): string {
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(epochMs));
}

/** Who a call reached, as names when the extension is bound to a user. */
export function partyName(party: { extension: string; userName: string | null }): string {
  return party.userName ? `${party.userName} (${party.extension})` : party.extension;
}

export function wasAnswered(call: Pick<CallRow, 'result' | 'answeredBy'>): boolean {
  return call.result === 'answered' || (call.result === null && call.answeredBy !== null);
}
