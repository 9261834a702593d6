/**
 * How Bitrix24 talks to the app: form-encoded POSTs with nested keys (`data[CALL_ID]`, `auth[member_id]`)
 * for events (https://apidocs.bitrix24.com/api-reference/events/index.html) and a form POST of the frame
 * data to the installer/app page (https://apidocs.bitrix24.com/settings/oauth/simple-way.html).
 */
import type { EventDelivery } from './control-types.js';
import { isRecord } from './params.js';

export function flattenForm(value: unknown, prefix: string, out: [string, string][] = []): [string, string][] {
  if (Array.isArray(value)) {
    value.forEach((v, i) => flattenForm(v, `${prefix}[${i}]`, out));
  } else if (isRecord(value)) {
    for (const [k, v] of Object.entries(value)) flattenForm(v, prefix === '' ? k : `${prefix}[${k}]`, out);
  } else if (value !== undefined) {
    out.push([prefix, value === null ? '' : typeof value === 'boolean' ? (value ? '1' : '0') : String(value)]);
  }
  return out;
}

export async function postForm(url: string, pairs: [string, string][], timeoutMs: number): Promise<EventDelivery> {
  const body = new URLSearchParams(pairs).toString();
  const form = Object.fromEntries(pairs);
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'Bitrix24 Webhook Engine' },
      body,
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'manual',
    });
    return { handler: url, status: response.status, body: await response.text(), error: null, form };
  } catch (err) {
    return { handler: url, status: null, body: '', error: err instanceof Error ? err.message : String(err), form };
  }
}
