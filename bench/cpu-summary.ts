/**
 * `npx tsx bench/cpu-summary.ts <file.cpuprofile> [top]`: self time of a V8 CPU profile (BENCH_CPU_PROF) by function
 * and by file, the largest first — what the server spends its CPU on while it pops screens. Bench-only tooling.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  children?: number[];
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const fileOf = (url: string): string =>
  url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, 'node_modules/').replace(/^.*\/(server|bench|test)\//, '$1/') || '(native)';
const functionOf = (node: ProfileNode): string =>
  `${node.callFrame.functionName || '(anonymous)'} ${fileOf(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;

/** Time in each function including what it called (each sample counted once per function on its stack). */
export function inclusiveTimes(profile: Profile): Map<string, number> {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const out = new Map<string, number>();
  for (const [i, id] of profile.samples.entries()) {
    const dt = profile.timeDeltas[i] ?? 0;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = nodes.get(at);
      if (!node) break;
      const key = functionOf(node);
      if (seen.has(key)) continue;
      seen.add(key);
      out.set(key, (out.get(key) ?? 0) + dt);
    }
  }
  return out;
}

export function selfTimes(profile: Profile): { byFunction: Map<string, number>; byFile: Map<string, number>; totalMicros: number } {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  let totalMicros = 0;
  for (const [i, id] of profile.samples.entries()) {
    const dt = profile.timeDeltas[i] ?? 0;
    const node = nodes.get(id);
    if (!node) continue;
    const file = fileOf(node.callFrame.url);
    const fn = functionOf(node);
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + dt);
    const pkg = file.startsWith('node_modules/') ? file.split('/').slice(0, file.startsWith('node_modules/@') ? 3 : 2).join('/') : file;
    byFile.set(pkg, (byFile.get(pkg) ?? 0) + dt);
    totalMicros += dt;
  }
  return { byFunction, byFile, totalMicros };
}

function main(): void {
  const [file, topArg] = process.argv.slice(2);
  if (!file) throw new Error('usage: cpu-summary <file.cpuprofile> [top]');
  const top = Number(topArg ?? 30);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const { byFunction, byFile, totalMicros } = selfTimes(profile);
  const show = (title: string, m: Map<string, number>) => {
    process.stdout.write(`\n${title} (total ${(totalMicros / 1000).toFixed(0)} ms)\n`);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      process.stdout.write(`${(v / 1000).toFixed(1).padStart(9)} ms ${((100 * v) / totalMicros).toFixed(1).padStart(5)} %  ${k}\n`);
    }
  };
  show('self time by file / package', byFile);
  show('self time by function', byFunction);
  show('time including callees, by function', new Map([...inclusiveTimes(profile)].filter(([k]) => !k.startsWith('(root)') && !k.startsWith('(idle)'))));
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) main();
