/**
 * Figures and the one results table of `npm run bench`: nearest-rank percentiles and the text rendering.
 * Pure, so test/unit/bench/stats.unit.spec.ts pins them.
 */

/** Nearest-rank percentile (p in (0, 100]): the smallest value with at least p % of the values at or below it. NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? Number.NaN;
}

export interface Distribution {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function distribution(values: readonly number[]): Distribution {
  return {
    n: values.length,
    p50: percentile(values, 50),
    p95: percentile(values, 95),
    p99: percentile(values, 99),
    max: values.length === 0 ? Number.NaN : Math.max(...values),
  };
}

export type Verdict = 'met' | 'missed' | 'n/a';

export interface ResultRow {
  section: string;
  measure: string;
  value: number;
  unit: string;
  /** Human-readable target, e.g. "≤ 50". Absent: informative figure. */
  target?: string;
  verdict: Verdict;
  note?: string;
  /** Repeated phases (bench/lib/runs.ts): "min–max" over the runs; `value` is then the worst run. */
  spread?: string;
  runs?: number[];
}

/** A row against an upper bound (value ≤ limit). NaN (nothing measured) is a miss. */
export function atMost(section: string, measure: string, value: number, unit: string, limit: number, note?: string): ResultRow {
  return {
    section, measure, value, unit, target: `≤ ${limit}`, verdict: Number.isFinite(value) && value <= limit ? 'met' : 'missed',
    ...(note ? { note } : {}),
  };
}

/** A row that must equal an exact figure (e.g. 0 parked items). */
export function exactly(section: string, measure: string, value: number, unit: string, expected: number, note?: string): ResultRow {
  return {
    section, measure, value, unit, target: `= ${expected}`, verdict: value === expected ? 'met' : 'missed',
    ...(note ? { note } : {}),
  };
}

export function info(section: string, measure: string, value: number, unit: string, note?: string): ResultRow {
  return { section, measure, value, unit, verdict: 'n/a', ...(note ? { note } : {}) };
}

export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return '—';
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  return value.toFixed(abs >= 100 ? 0 : abs >= 10 ? 1 : 2);
}

/** Plain-text table, one line per row, columns padded; also valid inside a Markdown code block. A "spread" column when rows have one. */
export function renderTable(rows: readonly ResultRow[]): string {
  const spread = rows.some((r) => r.spread !== undefined);
  const header = ['section', 'measure', 'value', 'unit', ...(spread ? ['spread'] : []), 'target', 'verdict', 'note'];
  const cells = rows.map((r) => [
    r.section, r.measure, formatValue(r.value), r.unit, ...(spread ? [spreadCell(r)] : []), r.target ?? '', r.verdict, r.note ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: readonly string[]) => c.map((v, i) => (i === 2 ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

/** "71–99 (3 runs)"; empty for a figure measured once. */
function spreadCell(r: ResultRow): string {
  if (r.spread === undefined) return '';
  const n = r.runs?.length ?? 1;
  return n > 1 ? `${r.spread} (${n} runs)` : r.spread;
}

/** Markdown table for the README "Performance" section; with repeated phases, the value is the worst run and "spread" its range. */
export function renderMarkdown(rows: readonly ResultRow[]): string {
  const spread = rows.some((r) => r.spread !== undefined);
  const out = spread
    ? ['| section | measure | value (worst run) | spread | target | verdict | note |', '|---|---|---:|---|---|---|---|']
    : ['| section | measure | value | target | verdict | note |', '|---|---|---:|---|---|---|'];
  for (const r of rows) {
    const value = `${formatValue(r.value)} ${r.unit}`;
    out.push(spread
      ? `| ${r.section} | ${r.measure} | ${value} | ${spreadCell(r)} | ${r.target ?? ''} | ${r.verdict} | ${r.note ?? ''} |`
      : `| ${r.section} | ${r.measure} | ${value} | ${r.target ?? ''} | ${r.verdict} | ${r.note ?? ''} |`);
  }
  return out.join('\n');
}

/** Parses `name{labels} value` lines of a Prometheus text exposition. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    if (space <= 0) continue;
    const value = Number(line.slice(space + 1));
    if (Number.isFinite(value)) out.set(line.slice(0, space), value);
  }
  return out;
}
