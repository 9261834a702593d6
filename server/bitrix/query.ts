/**
 * Bitrix24 reads batch sub-commands as `method?query`, the query in PHP's http_build_query form:
 * nested keys as `fields[PHONE][0][VALUE]=…`. The SDK builds them the same way (qs.stringify, RFC 3986,
 * brackets percent-encoded) — see b24jssdk core/interaction/batch/processing/v2/abstract-processing.ts and
 * https://apidocs.bitrix24.com/settings/how-to-call-rest-api/batch.html. A `+` must be %2B or PHP reads a space.
 */
function encodeComponent(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function scalar(value: unknown): string | undefined {
  if (value === null || value === undefined) return '';
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  return undefined;
}

function pairs(prefix: string, value: unknown, out: string[]): void {
  const flat = scalar(value);
  if (flat !== undefined) {
    out.push(`${encodeComponent(prefix)}=${encodeComponent(flat)}`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => pairs(`${prefix}[${i}]`, v, out));
    return;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) pairs(`${prefix}[${k}]`, v, out);
  }
}

export function encodeBitrixQuery(params: Record<string, unknown>): string {
  const out: string[] = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    pairs(k, v, out);
  }
  return out.join('&');
}

export function batchCommandLine(method: string, params: Record<string, unknown>): string {
  const query = encodeBitrixQuery(params);
  return query ? `${method}?${query}` : method;
}
