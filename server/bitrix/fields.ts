/**
 * Reading single fields of Bitrix24 answers and event data, where a number may arrive as a string ("42") and text
 * may carry stray spaces. Shared by the readers in crm.ts and telephony.ts.
 */

/** Text of a string or number field, trimmed; '' for anything else. */
export function fieldText(value: unknown): string {
  return typeof value === 'string' ? value.trim() : typeof value === 'number' ? String(value) : '';
}

/** A positive integer id from a number or numeric string; null otherwise. */
export function positiveId(value: unknown): number | null {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  return Number.isInteger(n) && n > 0 ? n : null;
}
