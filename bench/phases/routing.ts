import type { Bitrix24Emulator } from '../../test/emulators/bitrix24/harness.js';
import { startCall } from '../lib/calls.js';
import { sleep, waitOutboxDrained } from '../lib/observe.js';
import type { BenchPortal } from '../lib/portal.js';
import type { ServerProcess } from '../lib/server-process.js';
import { distribution, info, type ResultRow } from '../lib/stats.js';

/**
 * Ring delay added by routing (issue 13): the PBX holds an inbound call of a trunk with Control Inbound Call from its
 * 30016 until the product answers (redirect to the responsible's extension, or accept to the normal route). Measured
 * by the Yeastar emulator's wall clock (30016 sent → decision received), for known customers whose responsible is
 * bound and free: the full path (CRM search, the record's responsible, the extension's state on the PBX, redirect).
 * Calls are spaced so the portal's 2 req/s bucket keeps room (about 5 requests per call).
 */
const CALLS = 30;
const SPACING_MS = 2_500;

export async function measureRoutingDelay(
  b24: Bitrix24Emulator, server: ServerProcess, portal: BenchPortal, log: (line: string) => void,
): Promise<ResultRow[]> {
  const numbers = Array.from({ length: CALLS }, (_, i) => `+1415556${String(1000 + i).padStart(4, '0')}`);
  for (const phone of numbers) {
    await b24.seedCrm(portal.memberId, 'CONTACT', { NAME: 'Routed', LAST_NAME: phone, ASSIGNED_BY_ID: String(portal.agentId), PHONE: [{ VALUE: phone, VALUE_TYPE: 'WORK' }] });
  }
  // User 1 is the portal's administrator (the emulator creates it with the portal).
  const admin = (await b24.frameToken(portal.memberId, 1)).accessToken;
  const saved = await fetch(`${server.url}/api/settings`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${admin}`, 'x-member-id': portal.memberId, 'content-type': 'application/json' },
    body: JSON.stringify({ routing: { enabled: true } }),
  });
  if (!saved.ok) throw new Error(`routing not switched on: ${saved.status} ${await saved.text()}`);
  await portal.pbx.controlInbound({ on: true });
  await b24.resetRateLimit(portal.memberId);
  const callIds: string[] = [];
  for (const from of numbers) {
    callIds.push(await startCall(portal.pbx, 'inbound-answered', { from, to: '1002', talkSeconds: 1, ringSeconds: 1, record: false }));
    await sleep(SPACING_MS);
  }
  await portal.pbx.waitIdle();
  await waitOutboxDrained(server, 60_000);
  const decisions = (await portal.pbx.inboundDecisions()).filter((d) => callIds.includes(d.callId));
  const redirected = decisions.filter((d) => d.decision === 'redirect').length;
  const d = distribution(decisions.map((x) => x.afterMs));
  log(`routing delay: n=${d.n} p50=${d.p50} p99=${d.p99} max=${d.max} redirected=${redirected}`);
  const section = 'routing: ring delay added (30016 → decision)';
  return [
    info(section, 'p50', d.p50, 'ms'),
    info(section, 'p99', d.p99, 'ms', `${d.n} calls, ${redirected} sent to the responsible, budget 1500 ms, PBX window 10 s`),
  ];
}
