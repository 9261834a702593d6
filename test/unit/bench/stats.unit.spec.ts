import { describe, expect, it } from 'vitest';
import {
  atMost, distribution, exactly, formatValue, info, parseMetrics, percentile, renderMarkdown, renderTable,
} from '../../../bench/lib/stats.js';
import { renderMetrics, type HealthDeps } from '../../../server/http/health.js';
import { readSlice } from '../../../server/http/event-loop.js';

describe('bench percentiles (nearest rank)', () => {
  it('picks the smallest value with at least p % at or below it', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 95)).toBe(95);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 51)).toBe(3);
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1], 0)).toThrow(RangeError);
  });

  it('does not reorder its input', () => {
    const values = [3, 1, 2];
    percentile(values, 50);
    expect(values).toEqual([3, 1, 2]);
  });

  it('summarizes a distribution', () => {
    const d = distribution([10, 20, 30, 40, 1000]);
    expect(d).toEqual({ n: 5, p50: 30, p95: 1000, p99: 1000, max: 1000 });
  });
});

describe('bench verdicts and table', () => {
  it('judges upper bounds and exact figures; nothing measured is a miss', () => {
    expect(atMost('s', 'm', 50, 'ms', 50).verdict).toBe('met');
    expect(atMost('s', 'm', 50.1, 'ms', 50).verdict).toBe('missed');
    expect(atMost('s', 'm', Number.NaN, 'ms', 50).verdict).toBe('missed');
    expect(exactly('s', 'm', 0, 'items', 0).verdict).toBe('met');
    expect(exactly('s', 'm', 1, 'items', 0).verdict).toBe('missed');
    expect(info('s', 'm', 3, 'x').verdict).toBe('n/a');
  });

  it('renders one aligned line per row, with the target and verdict', () => {
    const rows = [atMost('screen pop', 'p99', 12.345, 'ms', 50, 'n=60'), info('events', 'rate', 33624, 'ev/s')];
    const lines = renderTable(rows).split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^section\s+measure\s+value\s+unit\s+target\s+verdict\s+note$/);
    expect(lines[2]).toMatch(/^screen pop\s+p99\s+12\.3\s+ms\s+≤ 50\s+met\s+n=60$/);
    expect(lines[3]).toMatch(/^events\s+rate\s+33624\s+ev\/s\s+n\/a$/);
    const valueColumn = (lines[0] ?? '').indexOf('value') + 'value'.length;
    expect((lines[2] ?? '').slice(0, valueColumn).endsWith('12.3')).toBe(true);
    expect(renderMarkdown(rows).split('\n')[2]).toBe('| screen pop | p99 | 12.3 ms | ≤ 50 | met | n=60 |');
  });

  it('formats values by magnitude and shows a dash for nothing', () => {
    expect(formatValue(0.2994)).toBe('0.30');
    expect(formatValue(12.34)).toBe('12.3');
    expect(formatValue(123.4)).toBe('123');
    expect(formatValue(Number.NaN)).toBe('—');
  });
});

describe('/metrics figures the bench reads', () => {
  it('exposes RSS and the last event-loop slice, and parses back', () => {
    const deps = {
      store: { portals: { list: () => [] } },
      outbox: { stats: () => ({ pending: 0, failed: 0 }) },
      restRequests: () => 0, restErrors: () => 0, httpErrors: () => 0, startedAt: 0,
      gauges: { callsInFlight: () => 0, pbxLinksUp: () => 0 },
      rssBytes: () => 123_456_789,
      eventLoop: { lastSlice: () => ({ endedAt: 5000, sliceMs: 10_000, samples: 900, p50Ms: 10.1, p90Ms: 11, p99Ms: 25, maxMs: 40 }) },
    } as unknown as HealthDeps;
    const m = parseMetrics(renderMetrics(deps));
    expect(m.get('process_resident_memory_bytes')).toBe(123_456_789);
    expect(m.get('pbxb24_event_loop_delay_seconds{quantile="0.99"}')).toBeCloseTo(0.025);
    expect(m.get('pbxb24_event_loop_delay_seconds{quantile="1"}')).toBeCloseTo(0.04);
    expect(m.get('pbxb24_event_loop_slice_end_seconds')).toBe(5);
    expect(m.get('pbxb24_outbox_pending')).toBe(0);
  });

  it('reads a histogram slice in milliseconds, zeros when it has no samples', () => {
    const h = { count: 10, max: 40e6, percentile: (q: number) => q * 1e6 };
    expect(readSlice(h, 1, 10_000)).toEqual({ endedAt: 1, sliceMs: 10_000, samples: 10, p50Ms: 50, p90Ms: 90, p99Ms: 99, maxMs: 40 });
    const empty = { count: 0, max: 0, percentile: () => 9.2e18 };
    expect(readSlice(empty, 0, 10_000).p99Ms).toBe(0);
  });
});
