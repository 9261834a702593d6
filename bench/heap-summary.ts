/**
 * Where the memory goes: `npx tsx bench/heap-summary.ts <a.heapsnapshot> [<b.heapsnapshot> <portals in a> <portals in b>]`.
 * One snapshot: the largest groups of objects by self size (constructor name for objects and closures' function
 * names; strings, arrays, code and native buffers by kind). Two snapshots of servers with different portal counts
 * (bench/phases/tenants.ts with BENCH_HEAP_DIR): the groups that grew, in bytes and objects per additional portal —
 * what each portal holds. Bench-only tooling; heap snapshots are V8's JSON format (node_fields / strings).
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export interface Group {
  key: string;
  count: number;
  bytes: number;
}

/** Groups by kind and name; names of strings and numbers are dropped (they are the values themselves). */
export function groupsOf(snap: Snapshot): Map<string, Group> {
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const out = new Map<string, Group>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt] ?? 0] ?? '?';
    const rawName = snap.strings[snap.nodes[i + nameAt] ?? 0] ?? '';
    const named = type === 'object' || type === 'closure' || type === 'native' || type === 'hidden' || type === 'array' || type === 'synthetic';
    const key = named ? `${type}:${rawName.slice(0, 60)}` : type;
    const g = out.get(key) ?? { key, count: 0, bytes: 0 };
    g.count += 1;
    g.bytes += snap.nodes[i + sizeAt] ?? 0;
    out.set(key, g);
  }
  return out;
}

const load = (file: string): Map<string, Group> => groupsOf(JSON.parse(readFileSync(file, 'utf8')) as Snapshot);
const kb = (b: number): string => `${(b / 1024).toFixed(1)} KB`;

function main(): void {
  const [a, b, na, nb] = process.argv.slice(2);
  if (!a) throw new Error('usage: heap-summary <a.heapsnapshot> [<b.heapsnapshot> <portals in a> <portals in b>]');
  const ga = load(a);
  const total = (g: Map<string, Group>): number => [...g.values()].reduce((s, x) => s + x.bytes, 0);
  if (!b) {
    process.stdout.write(`total self size ${kb(total(ga))}\n`);
    for (const g of [...ga.values()].sort((x, y) => y.bytes - x.bytes).slice(0, 40)) {
      process.stdout.write(`${kb(g.bytes).padStart(12)} ${String(g.count).padStart(8)}  ${g.key}\n`);
    }
    return;
  }
  const gb = load(b);
  const portals = Number(nb) - Number(na);
  if (!(portals > 0)) throw new Error('give the portal counts of both snapshots, the second larger');
  process.stdout.write(`total self size ${kb(total(ga))} → ${kb(total(gb))}: ${kb((total(gb) - total(ga)) / portals)} per portal\n`);
  process.stdout.write(`${'per portal'.padStart(12)} ${'objects'.padStart(8)}  group\n`);
  const keys = new Set([...ga.keys(), ...gb.keys()]);
  const diffs = [...keys].map((key) => ({
    key, bytes: (gb.get(key)?.bytes ?? 0) - (ga.get(key)?.bytes ?? 0), count: (gb.get(key)?.count ?? 0) - (ga.get(key)?.count ?? 0),
  }));
  for (const d of diffs.sort((x, y) => y.bytes - x.bytes).slice(0, 50)) {
    process.stdout.write(`${kb(d.bytes / portals).padStart(12)} ${(d.count / portals).toFixed(1).padStart(8)}  ${d.key}\n`);
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) main();
