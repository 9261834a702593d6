import type { Bitrix24Emulator } from '../../test/emulators/bitrix24/harness.js';
import { knownNumbers, startCall } from '../lib/calls.js';
import { countFinishes, popLatencies, registerTimes, ringTimes, sleep, waitOutboxDrained } from '../lib/observe.js';
import type { BenchPortal } from '../lib/portal.js';
import type { ServerProcess } from '../lib/server-process.js';
import { atMost, distribution, exactly, info, type ResultRow } from '../lib/stats.js';

/**
 * Sustained load on one portal with the emulator's limit on (2 req/s, burst 50): 10 new inbound calls per second for
 * `seconds`, 70 % answered with a recording, 30 % missed, known numbers. Calls last seconds of real time (speed 10),
 * so many are live at once, as in a call centre.
 */
export async function measureSustained(
  b24: Bitrix24Emulator, server: ServerProcess, portal: BenchPortal, log: (line: string) => void, seconds = 60, perSecond = 10,
): Promise<ResultRow[]> {
  const numbers = knownNumbers();
  await b24.resetRateLimit(portal.memberId);
  const before = await b24.requests({ memberId: portal.memberId });
  const lastSeq = before.reduce((m, r) => Math.max(m, r.seq), 0);
  const total = seconds * perSecond;
  const started = Date.now();
  const pending: Promise<string>[] = [];
  for (let i = 0; i < total; i += 1) {
    const due = started + (i * 1000) / perSecond;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    const answered = i % 10 < 7;
    pending.push(startCall(portal.pbx, answered ? 'inbound-answered' : 'inbound-missed', {
      from: numbers[i % numbers.length], to: '1001', speed: 10, ringSeconds: 4,
      ...(answered ? { talkSeconds: 20 + (i % 20), record: true } : {}),
    }));
  }
  const callIds = await Promise.all(pending);
  const lastStarted = Date.now();
  await portal.pbx.waitIdle();
  const lastEnded = Date.now();
  const drainMs = await waitOutboxDrained(server, 120_000, lastEnded);
  const metrics = await server.metrics();
  const requests = (await b24.requests({ memberId: portal.memberId })).filter((r) => r.seq > lastSeq);
  const calls = await b24.calls(portal.memberId);
  const logged = countFinishes(calls, requests, callIds);
  const limited = requests.filter((r) => r.error === 'QUERY_LIMIT_EXCEEDED').length;
  const http = requests.filter((r) => !r.viaBatch).length;
  const byMethod = new Map<string, number>();
  for (const r of requests) if (!r.viaBatch) byMethod.set(r.method, (byMethod.get(r.method) ?? 0) + 1);
  const commands = requests.filter((r) => r.method !== 'batch').length;
  log(`sustained: HTTP requests by method ${[...byMethod].map(([m, n]) => `${m} ${n}`).join(', ')}; ${commands} commands`);
  const byTenSeconds = new Map<number, number[]>();
  const rings = await ringTimes(portal.pbx, callIds);
  const regs = registerTimes(requests, callIds);
  for (const id of callIds) {
    const ring = rings.get(id);
    const reg = regs.get(id);
    if (ring === undefined || reg === undefined) continue;
    const slot = Math.floor((ring - started) / 10_000);
    byTenSeconds.set(slot, [...(byTenSeconds.get(slot) ?? []), reg - ring]);
  }
  const pops = popLatencies(rings, regs, callIds);
  // Where a screen pop's time goes: the PBX event reaching the product (the call's start it registers, in
  // EXTERNAL_CALL_ID), then the product's way to the portal (outbox, rate-limit token, HTTP).
  const toServer: number[] = [];
  const toPortal: number[] = [];
  for (const r of requests) {
    if (r.method !== 'telephony.externalCall.register' || r.error !== null) continue;
    const external = String(r.params.EXTERNAL_CALL_ID);
    const cut = external.lastIndexOf('-');
    const ring = rings.get(external.slice(0, cut));
    const startedAt = Number(external.slice(cut + 1));
    if (ring === undefined || !Number.isFinite(startedAt)) continue;
    toServer.push(startedAt - ring);
    toPortal.push(Date.parse(r.time) - startedAt);
  }
  const split = (v: number[]) => { const x = distribution(v); return `p50 ${x.p50} p95 ${x.p95} max ${x.max}`; };
  log(`sustained: pop split — ring → product ${split(toServer)}; product → portal ${split(toPortal)}`);
  const d = distribution(pops.latencies);
  log(`sustained: pop p95 by 10 s: ${[...byTenSeconds].map(([k, v]) => `${k * 10}s ${distribution(v).p95}`).join(', ')}`);
  const parked = metrics.get('pbxb24_outbox_failed') ?? Number.NaN;
  log(`sustained: ${total} calls in ${((lastStarted - started) / 1000).toFixed(1)} s, logged once ${logged.loggedOnce}, twice ${logged.loggedTwice}, `
    + `not ${logged.notLogged}; pop p95 ${d.p95} ms; drain ${drainMs} ms; parked ${parked}; limit answers ${limited}; http ${http}`);
  const section = `sustained ${perSecond} calls/s × ${seconds} s`;
  return [
    exactly(section, 'calls logged exactly once', logged.loggedOnce, `of ${total}`, total,
      `${logged.loggedTwice} twice, ${logged.notLogged} not logged`),
    exactly(section, 'outbox items parked as failed', parked, 'items', 0, `${limited} QUERY_LIMIT_EXCEEDED answers absorbed`),
    atMost(section, 'screen pop p95', d.p95, 'ms', 1000, `p50 ${d.p50}, p99 ${d.p99}, max ${d.max}${pops.missing ? `, ${pops.missing} never popped` : ''}`),
    atMost(section, 'outbox drained after last call', drainMs / 1000, 's', 10),
    info(section, 'Bitrix24 HTTP requests', http / (seconds), 'req/s', `${http} in all, ${(http / total).toFixed(2)} per call`),
  ];
}
