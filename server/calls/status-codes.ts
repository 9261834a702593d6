import type { CallResult } from '../pbx/adapter.js';

/**
 * How a PBX call result becomes the STATUS_CODE of telephony.externalCall.finish.
 *
 * Bitrix24 reads STATUS_CODE to decide whether the call was successful or missed; without it every call
 * with DURATION 0 shows as missed (asterlink#5). Codes Bitrix24 defines
 * (https://apidocs.bitrix24.com/api-reference/telephony/telephony-external-call-finish.html):
 * 200 success, 304 missed, 603 declined, 603-S cancelled, 403 forbidden, 404 invalid number, 486 busy,
 * 484/503 direction unavailable, 480 temporarily unavailable, 402 insufficient funds, 423 blocked, OTHER.
 *
 *   answered  → 200
 *   missed    → 304
 *   voicemail → 304 (nobody of the company talked to the caller: Bitrix24 should count it as missed)
 *   busy      → 486
 *   failed    → the SIP code in the PBX's failure reason when Bitrix24 knows it (403, 404, 480, 484, 486,
 *               503, 603 …), a named reason mapped below, else 603
 */
export const STATUS_BY_RESULT: Readonly<Record<Exclude<CallResult, 'failed'>, string>> = Object.freeze({
  answered: '200',
  missed: '304',
  voicemail: '304',
  busy: '486',
});

/** SIP codes Bitrix24 accepts as they are. */
const PASS_THROUGH = new Set(['402', '403', '404', '423', '480', '484', '486', '503', '603']);

/**
 * SIP codes Bitrix24 does not list, mapped to the nearest one it does. 487 Request Terminated is the caller
 * hanging up while it rang (pienaahj/pbx-api capture in the Yeastar reference): a missed call, not a failure.
 */
const SIP_EQUIVALENT: Readonly<Record<string, string>> = Object.freeze({
  '487': '304',
  '408': '304',
  '410': '404',
  '600': '486',
  '500': '503',
  '502': '503',
  '504': '503',
});

/** Yeastar 30015 reasons without a SIP code (help.yeastar.com developer guide, event "Call failed"). */
const NAMED_REASONS: ReadonlyArray<[RegExp, string]> = [
  [/busy/i, '486'],
  [/\bdnd\b|do not disturb/i, '480'],
  [/dial permission|outbound restrict/i, '403'],
  [/congestion|unreachable/i, '503'],
  [/not ?found/i, '404'],
  [/address incomplete/i, '484'],
  [/declin|reject/i, '603'],
  [/terminated|cancel/i, '304'],
];

/** The STATUS_CODE for a PBX failure reason such as "486 Busy Here" or "DND"; undefined when unknown. */
export function statusForReason(reason: string | undefined): string | undefined {
  if (!reason) return undefined;
  const sip = /\b([1-6]\d\d)\b/.exec(reason)?.[1];
  if (sip) {
    if (PASS_THROUGH.has(sip)) return sip;
    const equivalent = SIP_EQUIVALENT[sip];
    if (equivalent) return equivalent;
  }
  for (const [pattern, code] of NAMED_REASONS) if (pattern.test(reason)) return code;
  return undefined;
}

/** The STATUS_CODE for a finished call. */
export function statusCodeFor(result: CallResult, reason?: string): string {
  if (result === 'failed') return statusForReason(reason) ?? '603';
  return STATUS_BY_RESULT[result];
}

/** Reads the live-event reason back into a result, used when no CDR came. */
export function resultForReason(reason: string | undefined): CallResult {
  if (!reason) return 'missed';
  const code = statusForReason(reason);
  if (code === '486') return 'busy';
  if (code === '304') return 'missed';
  return 'failed';
}
