import { BitrixError, type BatchCommand, type BatchResult, type BitrixClient, type BitrixClients } from '../../../server/bitrix/types.js';

export interface Received {
  method: string;
  params: Record<string, unknown>;
  via: 'call' | 'batch';
}

type MethodImpl = (params: Record<string, unknown>) => unknown;

/**
 * A Bitrix24 portal as the outbox meets it: methods answer or throw BitrixError like the real REST API; `batch`
 * runs commands in order, fills `$result[key][field]…` from earlier commands, reports failures in `errors`
 * with halt=false, and counts as one request. A rate-limit window answers QUERY_LIMIT_EXCEEDED (503) to whole
 * requests, executing nothing, as the leaky bucket does.
 */
export class FakeBitrix implements BitrixClients {
  readonly received: Received[] = [];
  readonly batchSizes: number[] = [];
  requests = 0;
  /** Requests to refuse with QUERY_LIMIT_EXCEEDED before answering again. */
  rateLimitedRequests = 0;
  /** Whole requests to fail with a network error (nothing executed). */
  networkDownRequests = 0;
  /** Set to hold every request until released (to let a queue build up). */
  gate: Promise<void> | undefined;
  private readonly methods = new Map<string, MethodImpl>();
  private nextCallId = 1;

  constructor(readonly memberId = 'm1') {
    this.define('telephony.externalCall.register', (p) => ({ CALL_ID: `CALL-${this.nextCallId++}`, EXTERNAL_CALL_ID: p.EXTERNAL_CALL_ID }));
    this.define('telephony.externalCall.finish', (p) => {
      if (typeof p.CALL_ID !== 'string' || !p.CALL_ID.startsWith('CALL-')) {
        throw new BitrixError('ERROR_CORE', `Call ${String(p.CALL_ID)} is not found`, 400, false);
      }
      return { CALL_ID: p.CALL_ID };
    });
    this.define('test.write', (p) => ({ ok: true, n: p.n }));
    this.define('test.invalid', () => {
      throw new BitrixError('ERROR_CORE', 'Field PHONE is required', 400, false);
    });
  }

  define(method: string, impl: MethodImpl): void {
    this.methods.set(method, impl);
  }

  forPortal(memberId: string): BitrixClient {
    return {
      memberId,
      call: async <T>(method: string, params: Record<string, unknown> = {}): Promise<T> => {
        await this.admit();
        return this.execute(method, params, 'call') as T;
      },
      list: async () => [],
      batch: async (commands: BatchCommand[], halt = false): Promise<BatchResult> => {
        if (commands.length > 50) throw new BitrixError('ERROR_BATCH_LENGTH_EXCEEDED', 'Max batch length exceeded', 400, false);
        await this.admit();
        this.batchSizes.push(commands.length);
        const results: Record<string, unknown> = {};
        const errors: BatchResult['errors'] = {};
        for (const command of commands) {
          try {
            const params = fillResultRefs(command.params, results);
            results[command.key] = this.execute(command.method, params, 'batch');
          } catch (err) {
            const e = err instanceof BitrixError ? err : new BitrixError('ERROR_CORE', String(err), 400, false);
            errors[command.key] = { error: e.code, description: e.message };
            if (halt) break;
          }
        }
        return { results, errors };
      },
    };
  }

  requestCount(): number {
    return this.requests;
  }

  /** Methods received, in order, with the marker param `n` when present. */
  executed(method?: string): Received[] {
    return this.received.filter((r) => method === undefined || r.method === method);
  }

  private async admit(): Promise<void> {
    this.requests += 1;
    if (this.gate) await this.gate;
    if (this.networkDownRequests > 0) {
      this.networkDownRequests -= 1;
      throw new BitrixError('NETWORK_ERROR', 'connect ECONNREFUSED', 0, true);
    }
    if (this.rateLimitedRequests > 0) {
      this.rateLimitedRequests -= 1;
      throw new BitrixError('QUERY_LIMIT_EXCEEDED', 'Too many requests', 503, true);
    }
  }

  private execute(method: string, params: Record<string, unknown>, via: 'call' | 'batch'): unknown {
    const impl = this.methods.get(method);
    if (!impl) throw new BitrixError('ERROR_METHOD_NOT_FOUND', `Method not found: ${method}`, 404, false);
    const result = impl(params);
    this.received.push({ method, params, via });
    return result;
  }
}

/** Bitrix24 substitutes `$result[key][field]…` with earlier results of the same batch; a missing one becomes empty. */
function fillResultRefs(params: Record<string, unknown>, results: Record<string, unknown>): Record<string, unknown> {
  const fill = (value: unknown): unknown => {
    if (typeof value === 'string') {
      const m = /^\$result\[([^\]]+)\]((?:\[[^\]]+\])*)$/.exec(value);
      if (!m) return value;
      let current: unknown = results[m[1] ?? ''];
      for (const step of (m[2] ?? '').match(/\[([^\]]+)\]/g) ?? []) {
        const field = step.slice(1, -1);
        current = typeof current === 'object' && current !== null ? (current as Record<string, unknown>)[field] : undefined;
      }
      return current ?? '';
    }
    if (Array.isArray(value)) return value.map(fill);
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v)]));
    }
    return value;
  };
  return fill(params) as Record<string, unknown>;
}
