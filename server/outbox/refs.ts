import type { ResultRef } from './types.js';

/**
 * `{ $ref, path }` values inside an item's params stand for a field of an earlier item's result.
 * They are resolved when the item is sent: from the stored result of a done item, or, when the referenced item
 * rides in the same batch, as Bitrix24's `$result[<key>][<field>]…` expression, which the batch fills in server-side
 * (batch.md: "sub-requests run sequentially; reference earlier results with $result[cmd_key][field]").
 */
export function isResultRef(value: unknown): value is ResultRef {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return typeof v.$ref === 'string' && Array.isArray(v.path) && Object.keys(v).length === 2;
}

function walk(value: unknown, visit: (ref: ResultRef) => unknown): unknown {
  if (isResultRef(value)) return visit(value);
  if (Array.isArray(value)) return value.map((v) => walk(v, visit));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = walk(v, visit);
    return out;
  }
  return value;
}

/** Ids of the items this params object refers to. */
export function referencedIds(params: Record<string, unknown>): string[] {
  const ids = new Set<string>();
  walk(params, (ref) => {
    ids.add(ref.$ref);
    return undefined;
  });
  return [...ids];
}

/** Replaces every reference with what `resolve` gives for it. */
export function replaceRefs(params: Record<string, unknown>, resolve: (ref: ResultRef) => unknown): Record<string, unknown> {
  return walk(params, resolve) as Record<string, unknown>;
}

/** Follows `path` into a result; `found: false` when a step is missing. */
export function readPath(result: unknown, path: (string | number)[]): { found: boolean; value: unknown } {
  let current: unknown = result;
  for (const step of path) {
    if (typeof current !== 'object' || current === null) return { found: false, value: undefined };
    const next = (current as Record<string | number, unknown>)[step];
    if (next === undefined) return { found: false, value: undefined };
    current = next;
  }
  return { found: true, value: current };
}

export function batchExpression(key: string, path: (string | number)[]): string {
  return `$result[${key}]${path.map((p) => `[${p}]`).join('')}`;
}

/** Re-points references at ids that were deduplicated on enqueue (the stored item with the same key). */
export function renameRefs(params: Record<string, unknown>, renamed: Map<string, string>): Record<string, unknown> {
  if (renamed.size === 0) return params;
  return replaceRefs(params, (ref) => ({ $ref: renamed.get(ref.$ref) ?? ref.$ref, path: ref.path }));
}
