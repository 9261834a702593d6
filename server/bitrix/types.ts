/**
 * The Bitrix24 side as the rest of the server sees it: one client per portal, REST methods by name.
 * Typed wrappers (telephony.ts, crm.ts, users.ts) sit on top; nobody else builds URLs or handles tokens.
 */
export interface BatchCommand {
  key: string;
  method: string;
  params: Record<string, unknown>;
}

export interface BatchResult {
  /** Per command key: its result, when it succeeded. */
  results: Record<string, unknown>;
  /** Per command key: the error code and description, when it failed. */
  errors: Record<string, { error: string; description: string }>;
}

export interface BitrixClient {
  readonly memberId: string;
  /** One REST call: rate-limited, refreshed on expired_token, retried on QUERY_LIMIT_EXCEEDED/5xx. */
  call<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T>;
  /** All pages of a list method. */
  list<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T[]>;
  /** Up to 50 commands in one HTTP request; `$result[key][FIELD]` references work between them. */
  batch(commands: BatchCommand[], halt?: boolean): Promise<BatchResult>;
}

export interface BitrixClients {
  forPortal(memberId: string): BitrixClient;
  /** HTTP requests sent to Bitrix24 so far, per portal (metrics, benchmark). */
  requestCount(memberId?: string): number;
}

/** A Bitrix24 REST error, normalized. `retryable` decides between the outbox's backoff and parking. */
export class BitrixError extends Error {
  readonly code: string;
  readonly status: number;
  readonly retryable: boolean;
  constructor(code: string, description: string, status: number, retryable: boolean) {
    super(`${code}: ${description}`);
    this.name = 'BitrixError';
    this.code = code;
    this.status = status;
    this.retryable = retryable;
  }
}
