/**
 * A small seeded generator of hostile HTTP requests. Seeded (FUZZ_SEED, printed by the tests) so a failure is
 * replayable; no network target but the server under test, and no generated value ever names another host
 * (hosts are absent, malformed, or a closed loopback port), so a fuzzed install or PBX address cannot reach out.
 */

export interface Rng {
  next(): number;
  int(max: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

/** mulberry32: tiny, fast and good enough to spread cases. */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (max) => Math.floor(next() * max),
    pick: (items) => {
      if (items.length === 0) throw new Error('pick from an empty list');
      return items[Math.floor(next() * items.length)] as (typeof items)[number];
    },
    chance: (p) => next() < p,
  };
}

export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** What the case is, for the failure message. */
  label: string;
}

/** Hostile scalar values: wrong types, huge, control characters, broken Unicode, injection shapes. */
export function hostileValue(rng: Rng): unknown {
  const cases: (() => unknown)[] = [
    () => rng.int(2 ** 31) - 2 ** 30,
    () => rng.next() * 1e308,
    () => rng.chance(0.5),
    () => null,
    () => [],
    () => ({}),
    () => [rng.int(10), 'x', null],
    () => ({ nested: { deeper: ['a', { x: 1 }] } }),
    () => '',
    () => ' '.repeat(rng.int(50)),
    () => 'x'.repeat(1 + rng.int(5000)),
    () => '\u0000\u0001\u001f\u007f',
    () => '\ud800 lone surrogate',
    () => '😀'.repeat(rng.int(200)),
    () => '<script>alert(1)</script>',
    () => "'; DROP TABLE portals; --",
    () => '../../../etc/passwd',
    () => '__proto__',
    () => '{"constructor":{"prototype":{"polluted":true}}}',
    () => 'NaN',
    () => '-1',
    () => '1e999',
  ];
  return rng.pick(cases)();
}

export const randomKey = (rng: Rng): string =>
  rng.pick(['event', 'auth', 'data', 'member_id', 'application_token', '__proto__', 'constructor', 'AUTH_ID', 'x'.repeat(300), `k${rng.int(1000)}`]);

/** A lone surrogate cannot be percent-encoded (raw broken bytes are badEncoding's job): replaced by U+FFFD. */
const wellFormed = (s: string): string => s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');

/** A form-urlencoded body from nested fields, as Bitrix24 (and PHP's http_build_query) would write it. */
export function formEncode(fields: Record<string, unknown>, prefix = ''): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    const key = prefix ? `${prefix}[${k}]` : k;
    if (v !== null && typeof v === 'object') parts.push(formEncode(v as Record<string, unknown>, key));
    else parts.push(`${encodeURIComponent(wellFormed(key))}=${encodeURIComponent(wellFormed(String(v)))}`);
  }
  return parts.filter((p) => p !== '').join('&');
}

/** Bytes that are not what the content type says: broken UTF-8, broken percent-escapes, binary, wrong charset. */
export function badEncoding(rng: Rng): { body: Buffer; contentType: string } {
  const cases: (() => { body: Buffer; contentType: string })[] = [
    () => ({ body: Buffer.from([0xff, 0xfe, 0xfd, 0x3d, 0xc3, 0x28, 0x26, 0x80]), contentType: 'application/x-www-form-urlencoded' }),
    () => ({ body: Buffer.from('event=%E0%A4%A&auth[member_id]=%%%'), contentType: 'application/x-www-form-urlencoded' }),
    () => ({ body: Buffer.from('{"event": "ONAPPINSTALL", "auth": {'), contentType: 'application/json' }),
    () => ({ body: Buffer.from('{"a":1}', 'utf16le'), contentType: 'application/json; charset=utf-16' }),
    () => ({ body: Buffer.from('event=x'), contentType: 'application/x-www-form-urlencoded; charset=koi8-r' }),
    () => ({ body: Buffer.from(Array.from({ length: 512 }, () => rng.int(256))), contentType: 'application/octet-stream' }),
    () => ({ body: Buffer.from('--b\r\nContent-Disposition: form-data; name="event"\r\n\r\nX\r\n'), contentType: 'multipart/form-data; boundary=b' }),
    () => ({ body: Buffer.from('<xml><event>ONAPPINSTALL</event></xml>'), contentType: 'text/xml' }),
    () => ({ body: Buffer.from('not gzip at all'), contentType: 'application/json' }),
  ];
  return rng.pick(cases)();
}
