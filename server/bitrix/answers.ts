/**
 * Reading Bitrix24 answers, shared by the app's client (client.ts), the frame check (frame-check.ts) and the
 * employee-token client (as-user.ts): each used to carry its own copy.
 */
import { EnumAppStatus } from '@bitrix24/b24jssdk';
import { answerError } from './errors.js';
import type { BatchCommand, BatchResult } from './types.js';

export function asRecord(value: unknown): Record<string, unknown> {
  // PHP serializes an empty associative array as [] — treat it as an empty object.
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : {};
}

/** The portal's licence status as the SDK's enum (unknown values read as Free). */
export function sdkStatus(status: string): (typeof EnumAppStatus)[keyof typeof EnumAppStatus] {
  return Object.values(EnumAppStatus).find((v) => v === status) ?? EnumAppStatus.Free;
}

/**
 * A `batch` answer (`{result: {...}, result_error: {...}}`, settings/how-to-call-rest-api/batch.html) split into
 * per-command results and errors; a command that failed has no result.
 */
export function readBatchAnswer(answer: unknown, commands: BatchCommand[]): BatchResult {
  const body = asRecord(answer);
  const results = asRecord(body.result);
  const errors: BatchResult['errors'] = {};
  for (const [key, e] of Object.entries(asRecord(body.result_error))) {
    const rec = asRecord(e);
    const normalized = answerError(typeof e === 'string' ? e : rec.error, rec.error_description);
    errors[key] = { error: normalized.code, description: typeof rec.error_description === 'string' ? rec.error_description : normalized.message };
  }
  const out: Record<string, unknown> = {};
  for (const c of commands) if (c.key in results && !(c.key in errors)) out[c.key] = results[c.key];
  return { results: out, errors };
}
