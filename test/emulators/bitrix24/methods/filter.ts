/** One `filter` entry of a list method (`>=ID`, `!OWNER_ID`, `@TYPE_ID` …) against a flat record. */
export function matchesCrmFilterValue(rawKey: string, view: Record<string, unknown>, expected: unknown): boolean {
  const m = /^(>=|<=|!@|!=|=%|%=|>|<|@|%|=|!)?(.+)$/.exec(rawKey);
  const op = m?.[1] ?? '=';
  const key = (m?.[2] ?? rawKey).toUpperCase();
  const actual = view[key];
  const values = Array.isArray(actual) ? actual : [actual];
  const wanted = Array.isArray(expected) ? expected.map(String) : [String(expected)];
  const test = (v: unknown, o: string): boolean => {
    const s = v === null || v === undefined ? '' : String(v);
    switch (o) {
      case '>=': return Number(s) >= Number(wanted[0]);
      case '>': return Number(s) > Number(wanted[0]);
      case '<=': return Number(s) <= Number(wanted[0]);
      case '<': return Number(s) < Number(wanted[0]);
      case '%': return wanted.some((w) => s.toLowerCase().includes(w.toLowerCase()));
      case '=%': return wanted.some((w) => s.toLowerCase().startsWith(w.toLowerCase()));
      case '%=': return wanted.some((w) => s.toLowerCase().endsWith(w.toLowerCase()));
      default: return wanted.includes(s);
    }
  };
  if (op === '!' || op === '!=' || op === '!@') return !values.some((v) => test(v, '='));
  return values.some((v) => test(v, op === '@' ? '=' : op));
}
