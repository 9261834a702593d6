/**
 * Request parameters as PHP (and so Bitrix24) sees them: `fields[PHONE][0][VALUE]=…` becomes nested
 * objects/arrays. https://apidocs.bitrix24.com/settings/how-to-call-rest-api/data-encoding.html
 */
export type Params = Record<string, unknown>;

function splitKey(key: string): string[] {
  const open = key.indexOf('[');
  if (open <= 0) return [key];
  const parts = [key.slice(0, open)];
  const re = /\[([^\]]*)\]/g;
  let match: RegExpExecArray | null;
  while ((match = re.exec(key.slice(open))) !== null) parts.push(match[1] ?? '');
  return parts;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** PHP arrays with keys 0..n-1 serialize to JSON arrays; the rest stay objects. */
function listify(value: unknown): unknown {
  if (!isRecord(value)) return value;
  const keys = Object.keys(value);
  for (const k of keys) value[k] = listify(value[k]);
  const sequential = keys.length > 0 && keys.every((k, i) => k === String(i));
  return sequential ? keys.map((k) => value[k]) : value;
}

export function parseNestedPairs(pairs: Iterable<[string, string]>): Params {
  const root: Record<string, unknown> = {};
  for (const [rawKey, value] of pairs) {
    const parts = splitKey(rawKey);
    let node: Record<string, unknown> = root;
    for (let i = 0; i < parts.length; i += 1) {
      const part = parts[i] ?? '';
      const last = i === parts.length - 1;
      const key = part === '' ? String(Object.keys(node).length) : part;
      if (last) {
        node[key] = value;
      } else {
        const next = node[key];
        if (isRecord(next)) {
          node = next;
        } else {
          const created: Record<string, unknown> = {};
          node[key] = created;
          node = created;
        }
      }
    }
  }
  const out: Params = {};
  for (const [k, v] of Object.entries(root)) out[k] = listify(v);
  return out;
}

export function parseQueryString(query: string): Params {
  return parseNestedPairs(new URLSearchParams(query).entries());
}

/** First of the given names that is present (Bitrix24 accepts several spellings for some params). */
export function pick(params: Params, ...names: string[]): unknown {
  for (const name of names) {
    if (params[name] !== undefined && params[name] !== null) return params[name];
  }
  return undefined;
}

export function pickString(params: Params, ...names: string[]): string | undefined {
  const v = pick(params, ...names);
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

export function pickInt(params: Params, ...names: string[]): number | undefined {
  const v = pickString(params, ...names);
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v === 'true' ? 1 : v === 'false' ? 0 : v);
  return Number.isFinite(n) ? Math.trunc(n) : undefined;
}

export function pickRecord(params: Params, ...names: string[]): Record<string, unknown> | undefined {
  const v = pick(params, ...names);
  if (isRecord(v)) return v;
  if (Array.isArray(v)) return Object.fromEntries(v.map((x, i) => [String(i), x]));
  return undefined;
}

export function pickArray(params: Params, ...names: string[]): unknown[] | undefined {
  const v = pick(params, ...names);
  if (Array.isArray(v)) return v;
  if (isRecord(v)) return Object.values(v);
  if (v === undefined) return undefined;
  return [v];
}

/** Y/N, 1/0, true/false as Bitrix24 reads flags. */
export function isTruthyFlag(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'string') return ['y', '1', 'true'].includes(value.toLowerCase());
  return false;
}

export { isRecord };
