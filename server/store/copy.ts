/**
 * A private copy of a stored record, for the file store's repositories to hand out (and to keep what callers hand
 * in): callers may change what they get without changing what is stored. Why not structuredClone, which these
 * repositories used: it serializes and deserializes the whole value, so every string is copied too — an outbox item
 * holding a recording inline (FILE_CONTENT, up to 4 MB of base64) was copied in full each time the portal's worker
 * looked at its pending items, and those large strings are garbage that only a full GC frees (issue 14: the 200-portal
 * bench peaked at 363 MB RSS with 179 MB of V8 heap in use, the portals' own memory being 140 KB each). JavaScript
 * strings are immutable, so sharing them is as safe as copying them; objects and arrays are still copied, at every
 * depth. Anything but plain data (a Date, a Map: not what the repositories store, which all goes through JSON) falls
 * back to structuredClone, so the copy is never shallower than before.
 */
export function copyRecord<T>(value: T): T {
  return copy(value) as T;
}

/**
 * Index loops, not `map` and `Object.entries`: every PBX event copies its call's record several times, and `entries`
 * allocates a [key, value] pair per property — this was the largest share of the server's CPU while 20 calls rang at
 * once (bench/, issue 14), and the garbage it made fed the GC.
 */
function copy(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const out: unknown[] = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i += 1) out[i] = copy(value[i]);
    return out;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return structuredClone(value);
  const source = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const keys = Object.keys(source);
  for (let i = 0; i < keys.length; i += 1) {
    const k = keys[i] as string;
    out[k] = copy(source[k]);
  }
  return out;
}

/** A copy of the record a secondary index (e.g. Bitrix24's CALL_ID, an outbox key) points at, if both are there. */
export function copyThroughIndex<T>(index: ReadonlyMap<string, string> | undefined, records: ReadonlyMap<string, T> | undefined, key: string): T | undefined {
  const id = index?.get(key);
  const found = id === undefined ? undefined : records?.get(id);
  return found === undefined ? undefined : copyRecord(found);
}
