import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tenant } from '../../support/stack.js';
import { eventually } from '../foundation/server-under-test.js';
import { startTwoInstances, type TwoInstances } from './coherence-cluster.js';
import { tenantOwnedByA } from './support/portal-owned-by-a.js';

/**
 * Issue 14: a recording played through an instance that does not own the portal. Before: that instance's PBX adapter
 * refused ("runs on the instance that holds the portal's PBX link"), so the player failed on every other request
 * behind a round-robin proxy. Now the owner grants the download (portal work) and the other instance streams the file
 * from the PBX itself, never logging in (cluster/recording-handover.ts).
 */

let two: TwoInstances;
let tenant: Tenant;
let callId = '';

async function recording(on: 'a' | 'b', range?: string): Promise<{ status: number; bytes: Buffer; headers: Headers }> {
  const res = await fetch(`${(on === 'a' ? two.a : two.b).url}/api/calls/${encodeURIComponent(callId)}/recording`, {
    headers: { authorization: `Bearer ${tenant.adminToken}`, 'x-member-id': tenant.memberId, ...(range ? { range } : {}) },
  });
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

beforeAll(async () => {
  two = await startTwoInstances();
  tenant = await tenantOwnedByA(two, { events: 'websocket' });
  const run = await two.stack.pbx.scenario('inbound-answered', { from: '+15550108899', to: '1001', ringSeconds: 2, talkSeconds: 5, record: true, wait: true });
  callId = run.callId;
  await eventually(async () => {
    const row = await two.api('b', tenant, 'admin', 'GET', `/calls/${encodeURIComponent(callId)}`);
    return (row.body as { recording?: { available?: boolean } }).recording?.available === true;
  }, 30_000, 100);
}, 180_000);
afterAll(async () => {
  await two.close();
});

describe('a recording asked of the instance that does not own the portal', () => {
  it('plays the same bytes as on the owner, whole and by range, and that instance never logs in to the PBX', async () => {
    const { pbx } = two.stack;
    const loginsBefore = (await pbx.tokens()).getTokenCalls;
    const onB = await recording('b');
    expect(onB.status, onB.bytes.toString('utf8', 0, 200)).toBe(200);
    expect(onB.headers.get('content-type')).toMatch(/^audio\//);
    expect(onB.bytes.length).toBeGreaterThan(1000);
    expect((await pbx.tokens()).getTokenCalls).toBe(loginsBefore);

    const onA = await recording('a');
    expect(onA.status).toBe(200);
    expect(onB.bytes.equals(onA.bytes)).toBe(true);

    const part = await recording('b', 'bytes=100-1099');
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-1099/${onA.bytes.length}`);
    expect(part.bytes.equals(onA.bytes.subarray(100, 1100))).toBe(true);

    // B asked A for grants and fetched the file itself; only A ever logged in (one link, no login by B).
    expect((await pbx.tokens()).getTokenCalls).toBe(loginsBefore);
    expect(two.logs()).toContain('recording streamed from the PBX with the owner\'s grant');
    expect(await two.stack.logs()).toContain('granted another instance the download of a recording');
    expect(await pbx.sockets()).toHaveLength(1);
    // The token travelled sealed: no portal_work row holds it in the clear.
    const database = two.a.services.store.database;
    if (!database) throw new Error('instance A runs without PostgreSQL');
    const { rows } = await database.pool.query<{ result: { sealedToken?: string } | null }>(`SELECT result FROM portal_work WHERE kind = 'pbx.recordingGrant'`);
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      const sealed = row.result?.sealedToken ?? '';
      const token = database.secrets.open(sealed);
      expect(token.length).toBeGreaterThan(8);
      expect(JSON.stringify(row.result)).not.toContain(token);
    }
  }, 60_000);
});
