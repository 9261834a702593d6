/**
 * The `time` object of every REST answer.
 * https://apidocs.bitrix24.com/api-reference/data-types.html#time
 */
export interface TimeInfo {
  start: number;
  finish: number;
  duration: number;
  processing: number;
  date_start: string;
  date_finish: string;
  operating_reset_at: number;
  operating: number;
}

function isoWithOffset(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

export function timeInfo(startMs: number, finishMs = Date.now()): TimeInfo {
  const duration = Math.max(0, finishMs - startMs) / 1000;
  return {
    start: startMs / 1000,
    finish: finishMs / 1000,
    duration,
    processing: duration,
    date_start: isoWithOffset(startMs),
    date_finish: isoWithOffset(finishMs),
    // The operating window is ten minutes; with no heavy use the reset is "now + 10 min".
    operating_reset_at: Math.floor(finishMs / 1000) + 600,
    operating: 0,
  };
}

export { isoWithOffset };
