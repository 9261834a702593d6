/** The log of REST calls received, for tests to assert on; secrets never stored in clear. */
import type { RecordedRequest } from './control-types.js';
import { isRecord } from './params.js';
import type { EmulatorState } from './state.js';

const SECRET_PARAMS = new Set(['auth', 'access_token', 'refresh_token', 'client_secret', 'application_token']);

export function redactParams(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactParams);
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (SECRET_PARAMS.has(k.toLowerCase())) out[k] = '[redacted]';
    else if (k === 'FILE_CONTENT' && typeof v === 'string') out[k] = `[base64: ${v.length} chars]`;
    else out[k] = redactParams(v);
  }
  return out;
}

export function recordRequest(state: EmulatorState, entry: Omit<RecordedRequest, 'seq' | 'params'> & { params: unknown }): void {
  const params = redactParams(entry.params);
  state.requests.push({ ...entry, params: isRecord(params) ? params : {}, seq: state.requests.length + 1 });
}
