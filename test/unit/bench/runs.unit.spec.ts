import { describe, expect, it } from 'vitest';
import { combineRuns, judge, mergePhases, previousPhases, type PhaseResult } from '../../../bench/lib/runs.js';
import { atMost, exactly, info, renderMarkdown, renderTable } from '../../../bench/lib/stats.js';

/** Issue 14: repeated bench runs fold into the worst run with its spread, judged on the worst; partial runs merge. */
describe('combineRuns', () => {
  const pop = (p99: number) => [info('screen pop', 'p50', p99 / 2, 'ms'), atMost('screen pop', 'p99', p99, 'ms', 50, `run with ${p99}`)];

  it('shows the worst run, the spread, every value, and judges the target on the worst', () => {
    const rows = combineRuns([pop(32), pop(71), pop(40)]);
    const p99 = rows.find((r) => r.measure === 'p99');
    expect(p99).toMatchObject({ value: 71, spread: '32–71', runs: [32, 71, 40], verdict: 'missed', note: 'run with 71' });
    expect(rows.find((r) => r.measure === 'p50')).toMatchObject({ value: 35.5, spread: '16–35.5', verdict: 'n/a' });
    expect(combineRuns([pop(32), pop(45), pop(40)]).find((r) => r.measure === 'p99')?.verdict).toBe('met');
  });

  it('counts a run that failed (no figure) as a miss', () => {
    const p99 = combineRuns([pop(20), [], pop(30)]).find((r) => r.measure === 'p99');
    expect(p99?.verdict).toBe('missed');
    expect(p99?.runs[1]).toBeNaN();
    expect(p99?.value).toBe(30);
  });

  it('takes the run farthest from an exact target, and the lowest throughput', () => {
    const logged = combineRuns([[exactly('s', 'logged', 600, 'calls', 600)], [exactly('s', 'logged', 598, 'calls', 600)]]);
    expect(logged[0]).toMatchObject({ value: 598, verdict: 'missed', spread: '598–600' });
    const rate = combineRuns([[info('e', 'events', 30_000, 'ev/s')], [info('e', 'events', 25_000, 'ev/s')]]);
    expect(rate[0]?.value).toBe(25_000);
  });

  it('renders the spread column only when rows have one', () => {
    const rows = combineRuns([pop(32), pop(71), pop(40)]);
    expect(renderTable(rows)).toContain('32–71 (3 runs)');
    expect(renderMarkdown(rows)).toContain('| value (worst run) | spread |');
    expect(renderMarkdown(pop(32))).not.toContain('spread');
  });
});

describe('judge', () => {
  it('reads the target text', () => {
    expect(judge('≤ 50', 50)).toBe('met');
    expect(judge('≤ 50', 50.1)).toBe('missed');
    expect(judge('= 600', 600)).toBe('met');
    expect(judge('≥ 10', 9)).toBe('missed');
    expect(judge('≤ 50', Number.NaN)).toBe('missed');
    expect(judge(undefined, 1)).toBe('n/a');
  });
});

describe('results.json merge', () => {
  const phase = (date: string, value: number): PhaseResult => ({ date, runs: [[info('s', 'm', value, 'ms')]], rows: combineRuns([[info('s', 'm', value, 'ms')]]), failures: [] });

  it('replaces the phases run now and keeps the others, in the bench order', () => {
    const merged = mergePhases({ latency: phase('old', 1), tenants: phase('old', 2) }, { latency: phase('new', 3) }, ['latency', 'requests', 'tenants']);
    expect(Object.keys(merged)).toEqual(['latency', 'tenants']);
    expect(merged.latency?.date).toBe('new');
    expect(merged.tenants?.date).toBe('old');
  });

  it('reads only the phases of an earlier file, nothing from the single-run format or garbage', () => {
    expect(previousPhases({ rows: [], markdown: '' })).toEqual({});
    expect(previousPhases(null)).toEqual({});
    expect(previousPhases({ phases: { latency: phase('d', 1), broken: { rows: 'x' } } })).toEqual({ latency: phase('d', 1) });
  });
});
