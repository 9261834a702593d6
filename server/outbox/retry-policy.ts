import { isRetryable } from '../bitrix/errors.js';
import { BitrixError } from '../bitrix/types.js';

/** How a failed send is judged. */
export interface FailureVerdict {
  code: string;
  message: string;
  /** Another attempt may succeed. */
  retryable: boolean;
  /** Portal-wide and not the item's fault: wait without spending an attempt. */
  rateLimited: boolean;
  /** The per-method time budget is spent (limits.md §2.2): wait much longer than for a plain retry. */
  operationLimit: boolean;
  /** The app's tokens are gone: keep items pending until an admin reinstalls. */
  needsReinstall: boolean;
}

export function judgeError(err: unknown): FailureVerdict {
  if (err instanceof BitrixError) return verdict(err.code, err.message, err.retryable);
  // Anything else (a transport error the client did not convert, a bug) may pass; it still ends parked after maxAttempts.
  const message = err instanceof Error ? err.message : String(err);
  return verdict('UNEXPECTED', message, true);
}

/** A batch sub-command's error: only a code and a text, so the code decides. */
export function judgeCommandError(code: string, description: string): FailureVerdict {
  return verdict(code, `${code}: ${description}`, isRetryable(code, 200));
}

function verdict(code: string, message: string, retryable: boolean): FailureVerdict {
  return {
    code,
    message,
    retryable,
    rateLimited: code === 'QUERY_LIMIT_EXCEEDED',
    operationLimit: code === 'OPERATION_TIME_LIMIT',
    needsReinstall: code === 'PORTAL_NEEDS_REINSTALL',
  };
}

/** Exponential backoff with jitter: 1 s, 2 s, 4 s … capped at 5 min, each × a random 0.5–1.0. */
export function defaultBackoff(attempt: number): number {
  const base = Math.min(300_000, 1000 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.5 + Math.random() / 2));
}

/**
 * OPERATION_TIME_LIMIT: Bitrix24 counts a method's execution time in 1-minute buckets over 10 minutes, so a retry
 * before a bucket drops out fails again (limits.md §2.2). At least a minute, growing with the attempts.
 */
export function defaultOperationLimitBackoff(attempt: number): number {
  return Math.max(60_000, defaultBackoff(attempt) * 4);
}
