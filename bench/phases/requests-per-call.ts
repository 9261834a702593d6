import type { Bitrix24Emulator } from '../../test/emulators/bitrix24/harness.js';
import type { ScenarioOptions } from '../../test/emulators/yeastar/harness.js';
import { knownNumbers, startCall, unknownNumber } from '../lib/calls.js';
import { httpRequests, isExternalIdOf, poll, waitOutboxDrained } from '../lib/observe.js';
import type { BenchPortal } from '../lib/portal.js';
import type { ServerProcess } from '../lib/server-process.js';
import { atMost, info, type ResultRow } from '../lib/stats.js';

/**
 * Bitrix24 HTTP requests per call, counted at the emulator (a batch counts once), for three kinds of call. Each call
 * uses a number not seen before in the run, so no lookup cache helps; calls of a kind run one after another, and the
 * count includes everything the call caused (lookup, auto-create, register, finish, recording) until the outbox drained.
 */
interface Kind {
  key: 'answered' | 'missed' | 'unknown';
  portal: BenchPortal;
  label: string;
  opts: (i: number) => ScenarioOptions;
  scenario: 'inbound-answered' | 'inbound-missed';
  limit?: number;
  recorded: boolean;
}

const CALLS_PER_KIND = 10;

export async function measureRequestsPerCall(
  b24: Bitrix24Emulator, server: ServerProcess, plain: BenchPortal, autoCreating: BenchPortal, log: (line: string) => void,
): Promise<ResultRow[]> {
  const known = knownNumbers();
  const kinds: Kind[] = [
    { key: 'answered', portal: plain, label: 'answered with recording', scenario: 'inbound-answered', limit: 3, recorded: true,
      opts: (i) => ({ from: known[known.length - 1 - i], to: '1001', talkSeconds: 12, record: true }) },
    // 3, was 2 before issue 11: a number not looked up within the cache's TTL is looked up in all its written forms
    // before the register (the register carries the record found), a request no later one can share at idle.
    { key: 'missed', portal: plain, label: 'missed', scenario: 'inbound-missed', limit: 3, recorded: false,
      opts: (i) => ({ from: known[known.length - 1 - CALLS_PER_KIND - i], to: '1001' }) },
    { key: 'unknown', portal: autoCreating, label: 'unknown number, auto-create, answered with recording', scenario: 'inbound-answered', recorded: true,
      opts: (i) => ({ from: unknownNumber(i), to: '1001', talkSeconds: 12, record: true }) },
  ];
  const rows: ResultRow[] = [];
  for (const kind of kinds) {
    const { portal } = kind;
    await b24.resetRateLimit(portal.memberId);
    const before = await b24.requests({ memberId: portal.memberId });
    const lastSeq = before.reduce((m, r) => Math.max(m, r.seq), 0);
    const callIds: string[] = [];
    for (let i = 0; i < CALLS_PER_KIND; i += 1) {
      callIds.push(await startCall(portal.pbx, kind.scenario, { ...kind.opts(i), wait: true }));
    }
    await poll(async () => {
      const calls = (await b24.calls(portal.memberId)).filter((c) => callIds.some((id) => isExternalIdOf(c.externalCallId, id)));
      return calls.length === callIds.length && calls.every((c) => c.finished && (!kind.recorded || c.records.length > 0));
    }, 60_000);
    await waitOutboxDrained(server, 60_000);
    const spent = httpRequests((await b24.requests({ memberId: portal.memberId })).filter((r) => r.seq > lastSeq));
    const byMethod = new Map<string, number>();
    for (const r of spent) byMethod.set(r.method, (byMethod.get(r.method) ?? 0) + 1);
    const breakdown = [...byMethod].map(([m, n]) => `${m.replace('telephony.externalCall.', '')} ${n}`).join(', ');
    const perCall = spent.length / CALLS_PER_KIND;
    log(`requests per call, ${kind.label}: ${perCall} (${breakdown})`);
    const note = `${CALLS_PER_KIND} calls: ${breakdown}`;
    rows.push(kind.limit === undefined
      ? info('Bitrix24 requests per call', kind.label, perCall, 'req', note)
      : atMost('Bitrix24 requests per call', kind.label, perCall, 'req', kind.limit, note));
  }
  return rows;
}
