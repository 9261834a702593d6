import { formatValue, type ResultRow } from './stats.js';

/**
 * Repeated runs of a bench phase folded into one row per figure (issue 14, "Figures that reproduce"): one run of a
 * latency or memory phase on this 2-core machine is a sample, not a figure; the same code measured 55, 59 and 80 ms
 * in three runs. Each such phase runs several times; the table shows the WORST run, the spread (min–max) beside it,
 * and the target is judged on the worst, so a "met" holds for every run. Pure, so test/unit/bench/runs.unit.spec.ts
 * pins it.
 */
export interface CombinedRow extends ResultRow {
  /** This figure in each run, in run order (NaN where a run did not produce it). */
  runs: number[];
  /** "min–max" of the runs, or the one value when they agree. */
  spread: string;
}

const keyOf = (r: ResultRow): string => `${r.section}\u0000${r.measure}`;

/** Which way is worse for a figure: throughputs fall, everything else (ms, MB, req, items) grows. */
const higherIsBetter = (r: ResultRow): boolean => /\/s$/.test(r.unit) && r.unit !== 'req/s';

/** The target's verdict for a value, from the row's own target text ("≤ 50", "= 600"). */
export function judge(target: string | undefined, value: number): ResultRow['verdict'] {
  if (!target) return 'n/a';
  const m = /^(≤|=|≥)\s*(-?[\d.]+)$/.exec(target.trim());
  if (!m) return 'n/a';
  const limit = Number(m[2]);
  if (!Number.isFinite(value)) return 'missed';
  if (m[1] === '≤') return value <= limit ? 'met' : 'missed';
  if (m[1] === '≥') return value >= limit ? 'met' : 'missed';
  return value === limit ? 'met' : 'missed';
}

/** Index of the worst run of a figure: a run that missed (the farthest from "= x"), else the largest (or smallest) value. */
function worstIndex(rows: readonly (ResultRow | undefined)[]): number {
  let worst = -1;
  let worstScore = Number.NEGATIVE_INFINITY;
  for (const [i, r] of rows.entries()) {
    if (!r) continue;
    if (!Number.isFinite(r.value)) return i;
    const exact = r.target ? /^=\s*(-?[\d.]+)$/.exec(r.target.trim()) : null;
    const score = exact ? Math.abs(r.value - Number(exact[1])) : higherIsBetter(r) ? -r.value : r.value;
    if (score > worstScore) {
      worst = i;
      worstScore = score;
    }
  }
  return worst;
}

/**
 * One row per figure over `runs` (each the rows of one run, in the order the phase emits them): value and note of the
 * worst run, its verdict recomputed from the target (a figure missing in any run is a miss), all values kept.
 */
export function combineRuns(runs: readonly (readonly ResultRow[])[]): CombinedRow[] {
  const order: string[] = [];
  const byKey = new Map<string, (ResultRow | undefined)[]>();
  for (const [i, rows] of runs.entries()) {
    for (const r of rows) {
      const k = keyOf(r);
      let slot = byKey.get(k);
      if (!slot) {
        slot = Array.from({ length: runs.length }, () => undefined);
        byKey.set(k, slot);
        order.push(k);
      }
      slot[i] = r;
    }
  }
  const out: CombinedRow[] = [];
  for (const k of order) {
    const slot = byKey.get(k) ?? [];
    const worst = slot[worstIndex(slot)];
    if (!worst) continue;
    const values = slot.map((r) => r?.value ?? Number.NaN);
    const finite = values.filter((v) => Number.isFinite(v));
    const lo = Math.min(...finite);
    const hi = Math.max(...finite);
    const spread = finite.length === 0 ? '—' : lo === hi ? formatValue(lo) : `${formatValue(lo)}–${formatValue(hi)}`;
    const missingRun = values.some((v) => !Number.isFinite(v));
    const verdict = worst.target ? (missingRun ? 'missed' : judge(worst.target, worst.value)) : worst.verdict;
    out.push({ ...worst, verdict, runs: values, spread });
  }
  return out;
}

/** What one phase left in bench/results.json: every run's rows, the combined rows, when and how often it ran. */
export interface PhaseResult {
  date: string;
  runs: ResultRow[][];
  rows: CombinedRow[];
  failures: string[];
}

/**
 * results.json after a run of some phases: the phases just run replace their old entries, the others are kept as they
 * were (with their own date), so `BENCH_ONLY=latency` does not wipe the memory figures measured an hour before.
 * `order` fixes the order of the phases in the file and the table.
 */
export function mergePhases(
  previous: Readonly<Record<string, PhaseResult>>, fresh: Readonly<Record<string, PhaseResult>>, order: readonly string[],
): Record<string, PhaseResult> {
  const out: Record<string, PhaseResult> = {};
  for (const name of order) {
    const p = fresh[name] ?? previous[name];
    if (p) out[name] = p;
  }
  return out;
}

/** Reads the `phases` of an earlier results.json (any other shape, e.g. the single-run file before this change: none). */
export function previousPhases(json: unknown): Record<string, PhaseResult> {
  if (typeof json !== 'object' || json === null || !('phases' in json)) return {};
  const phases = (json as { phases: unknown }).phases;
  if (typeof phases !== 'object' || phases === null) return {};
  const out: Record<string, PhaseResult> = {};
  for (const [name, value] of Object.entries(phases)) {
    if (typeof value === 'object' && value !== null && Array.isArray((value as { rows?: unknown }).rows)) out[name] = value as PhaseResult;
  }
  return out;
}
