import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallEvent } from '../../../server/pbx/adapter.js';
import { createYeastarAdapter, type YeastarAdapter } from '../../../server/pbx/yeastar/adapter.js';
import { startYeastarEmulator, type ScenarioName, type YeastarEmulator } from '../../emulators/yeastar/harness.js';
import { waitFor } from './wait.js';

/**
 * Every scripted call of the Yeastar emulator, heard over the real WebSocket, must come out as the right
 * normalized events: one call per call_id, direction, numbers, who answered, status, talk time, recording.
 */

const EXTERNAL = '+15550123456';
const DID = '+15550200000';
const log = pino({ level: process.env['TEST_LOG'] ?? 'silent' });

describe('Yeastar adapter against the emulator: scenarios', () => {
  let pbx: YeastarEmulator;
  let adapter: YeastarAdapter;
  const events: CallEvent[] = [];

  beforeAll(async () => {
    pbx = await startYeastarEmulator({ speed: 1000 });
    adapter = createYeastarAdapter({
      portal: 'portal-1', log,
      settings: { baseUrl: pbx.url, clientId: pbx.clientId, clientSecret: pbx.clientSecret, events: 'websocket', webhookSecret: '' },
      // The settle window folds a call's CDR legs into one outcome: 200 ms split a ring group's legs on a loaded machine
      // (the answered leg came after the missed ones were folded). Production waits 1.5 s.
      timings: { settleMs: 1_000, heartbeatMs: 1_000, backoffInitialMs: 50, backoffMaxMs: 500 },
    });
    adapter.onCallEvent((e) => events.push(e));
    await adapter.connect();
    expect(adapter.status().state).toBe('connected');
  });

  afterAll(async () => {
    await adapter?.disconnect();
    await pbx?.stop();
  });

  async function play(name: ScenarioName, opts: Parameters<YeastarEmulator['scenario']>[1] = {}) {
    const { callId } = await pbx.scenario(name, { wait: true, ...opts });
    const cdr = await waitFor(() => events.find((e) => e.pbxCallId === callId && e.kind === 'cdr'), 15_000, `cdr of ${name}`);
    await new Promise((r) => setTimeout(r, 250));
    const mine = events.filter((e) => e.pbxCallId === callId);
    expect(mine.filter((e) => e.kind === 'cdr')).toHaveLength(1);
    for (const e of mine) expect(e.portal).toBe('portal-1');
    return { callId, cdr, mine, kinds: mine.map((e) => e.kind) };
  }

  it('inbound answered', async () => {
    const { cdr, mine, kinds } = await play('inbound-answered', { to: '1001', talkSeconds: 42 });
    expect(kinds).toEqual(['ringing', 'ringing', 'answered', 'ended', 'cdr']);
    expect(mine[0]).toMatchObject({ direction: 'inbound', external: EXTERNAL, did: DID, trunk: 'SIP-Trunk-1' });
    expect(mine[1]?.extensions).toEqual([{ number: '1001', state: 'ringing' }]);
    expect(cdr).toMatchObject({ direction: 'inbound', external: EXTERNAL, did: DID, cdr: { result: 'answered', answeredBy: '1001', talkSeconds: 42 } });
    expect(cdr.cdr?.recording?.ref).toMatch(/\.wav$/);
  });

  it('inbound missed', async () => {
    const { cdr, mine } = await play('inbound-missed');
    expect(mine.find((e) => e.kind === 'failed')?.reason).toBe('487 Request Terminated');
    expect(mine.some((e) => e.kind === 'answered')).toBe(false);
    expect(cdr).toMatchObject({ direction: 'inbound', external: EXTERNAL, cdr: { result: 'missed', talkSeconds: 0 } });
    expect(cdr.cdr?.answeredBy).toBeUndefined();
  });

  it('inbound busy', async () => {
    const { cdr, mine } = await play('inbound-busy');
    expect(mine.find((e) => e.kind === 'failed')?.reason).toBe('486 Busy Here');
    expect(cdr.cdr).toMatchObject({ result: 'busy', talkSeconds: 0 });
  });

  it('ring group: everyone rings, the one who answered is credited', async () => {
    const { cdr, mine } = await play('ring-group', { to: ['1001', '1002', '1003'], answeredBy: '1002', talkSeconds: 20 });
    const ringing = mine.filter((e) => e.kind === 'ringing').flatMap((e) => e.extensions.map((x) => x.number));
    expect(new Set(ringing)).toEqual(new Set(['1001', '1002', '1003']));
    expect(mine.find((e) => e.kind === 'answered')?.extensions.find((x) => x.state === 'answered')?.number).toBe('1002');
    expect(cdr.cdr).toMatchObject({ result: 'answered', answeredBy: '1002', talkSeconds: 20 });
  });

  it('queue behind an IVR: the agent leg is credited, never the IVR', async () => {
    const { cdr } = await play('queue-ivr', { to: ['1001', '1002'], answeredBy: '1002', talkSeconds: 33 });
    expect(cdr.cdr).toMatchObject({ result: 'answered', answeredBy: '1002', talkSeconds: 33 });
    expect(cdr.via).toContain('6200');
    expect(cdr.cdr?.recording).toBeDefined();
  });

  it('blind transfer: transferred, credited to the final agent', async () => {
    const { cdr, kinds } = await play('blind-transfer', { to: ['1001', '1002'], talkSeconds: 30 });
    expect(kinds).toContain('transferred');
    expect(cdr.cdr).toMatchObject({ result: 'answered', answeredBy: '1002', talkSeconds: 20 });
  });

  it('outbound answered', async () => {
    const { cdr, mine } = await play('outbound-answered', { from: '1001', to: '+4930555', talkSeconds: 15 });
    expect(mine[0]).toMatchObject({ kind: 'ringing', direction: 'outbound', external: '+4930555' });
    expect(mine.some((e) => e.kind === 'answered')).toBe(true);
    expect(cdr).toMatchObject({ direction: 'outbound', external: '+4930555', cdr: { result: 'answered', placedBy: '1001', talkSeconds: 15 } });
  });

  it('outbound failed', async () => {
    const { cdr, mine } = await play('outbound-failed', { from: '1002', to: '+4930666', reason: 'Line Unreachable' });
    expect(mine.find((e) => e.kind === 'failed')?.reason).toBe('Line Unreachable');
    expect(cdr).toMatchObject({ direction: 'outbound', external: '+4930666', cdr: { result: 'failed', placedBy: '1002', talkSeconds: 0 } });
  });

  it('internal call is marked internal, with no outside number', async () => {
    const { cdr, mine } = await play('internal', { from: '1001', to: '1002' });
    for (const e of mine) expect(e).toMatchObject({ direction: 'internal', external: '' });
    expect(cdr.cdr).toMatchObject({ result: 'answered', answeredBy: '1002' });
  });

  it('msg sent as an object is read the same way', async () => {
    await pbx.setEventFormat({ msgAsObjectFor: [30011, 30012, 30015, 30016] });
    const { cdr } = await play('inbound-answered', { to: '1003', talkSeconds: 7 });
    expect(cdr.cdr).toMatchObject({ result: 'answered', answeredBy: '1003', talkSeconds: 7 });
    await pbx.setEventFormat({ msgAsObjectFor: [] });
  });

  it('a burst of concurrent calls yields exactly one cdr per call id', async () => {
    const { callIds } = await pbx.burst({ scenario: 'inbound-answered', calls: 20, concurrency: 10, to: '1001', wait: true });
    await waitFor(() => (callIds.every((id) => events.some((e) => e.pbxCallId === id && e.kind === 'cdr')) ? true : undefined), 8_000, 'all burst cdrs');
    for (const id of callIds) expect(events.filter((e) => e.pbxCallId === id && e.kind === 'cdr')).toHaveLength(1);
  });

  it('malformed frames on the socket are skipped, the link stays up', async () => {
    await pbx.sendRaw('{not json');
    await pbx.sendRaw('{"type":30011,"msg":"{broken"}');
    await pbx.sendRaw('{"type":30012,"msg":{"no_call_id":true}}');
    const { cdr } = await play('inbound-answered', { to: '1001', talkSeconds: 3 });
    expect(cdr.cdr?.result).toBe('answered');
    expect(adapter.status().state).toBe('connected');
  });

  it('downloads the recording as a stream, and lists extensions, phonebooks; click-to-call returns the call id', async () => {
    const { cdr } = await play('inbound-answered', { to: '1002', talkSeconds: 2 });
    const ref = cdr.cdr?.recording;
    expect(ref).toBeDefined();
    if (!ref) return;
    const file = await adapter.downloadRecording(ref);
    expect(file.contentType).toMatch(/audio/);
    const chunks: Buffer[] = [];
    for await (const c of file.stream) chunks.push(Buffer.from(c as Uint8Array));
    const wav = Buffer.concat(chunks);
    expect(wav.subarray(0, 4).toString()).toBe('RIFF');
    expect(wav.subarray(8, 12).toString()).toBe('WAVE');

    const exts = await adapter.listExtensions();
    expect(exts.map((e) => e.number)).toEqual(expect.arrayContaining(['1001', '1002', '1003']));
    expect(exts.find((e) => e.number === '1001')?.email).toMatch(/@/);

    const book = await adapter.createPhonebook('Bitrix24 CRM');
    const contactId = await adapter.upsertContact(book.id, { firstName: 'Ada', lastName: 'Lovelace', company: 'AE', email: 'ada@example.com', numbers: [{ type: 'mobile', number: '+4930777' }] });
    const same = await adapter.upsertContact(book.id, { firstName: 'Ada', lastName: 'King', company: 'AE', email: 'ada@example.com', numbers: [{ type: 'business', number: '+4930778' }] }, contactId);
    expect(same).toBe(contactId);
    const contacts = await pbx.companyContacts();
    expect(JSON.stringify(contacts.find((c) => String((c as { id: unknown }).id) === contactId))).toMatch(/King/);
    expect((await adapter.listPhonebooks()).some((p) => p.id === book.id && p.name === 'Bitrix24 CRM')).toBe(true);

    const dialed = await adapter.dial('1001', '+4930999');
    expect(dialed.pbxCallId).toMatch(/\S/);
  });

  it('click-to-call: the PBX call id from dial() names the call; events come once the trunk leg shows', async () => {
    await pbx.setDialBehavior({ callerAnswers: true, calleeAnswers: true, talkSeconds: 9, ringSeconds: 1, hold: false });
    const { pbxCallId } = await adapter.dial('1002', '+4930444');
    const cdr = await waitFor(() => events.find((e) => e.pbxCallId === pbxCallId && e.kind === 'cdr'), 5_000, 'click-to-call cdr');
    const mine = events.filter((e) => e.pbxCallId === pbxCallId);
    expect(mine[0]).toMatchObject({ kind: 'ringing', direction: 'outbound', external: '+4930444' });
    expect(mine.some((e) => e.kind === 'answered')).toBe(true);
    expect(cdr).toMatchObject({ direction: 'outbound', external: '+4930444', cdr: { result: 'answered', placedBy: '1002', talkSeconds: 9 } });

    await pbx.setDialBehavior({ callerAnswers: false, calleeAnswers: false, ringSeconds: 1 });
    const unanswered = await adapter.dial('1003', '+4930555');
    const lone = await waitFor(() => events.find((e) => e.pbxCallId === unanswered.pbxCallId && e.kind === 'cdr'), 5_000, 'unanswered click-to-call cdr');
    expect(lone.cdr?.result).not.toBe('answered');
    expect(events.filter((e) => e.pbxCallId === unanswered.pbxCallId && e.kind === 'cdr')).toHaveLength(1);
  });
});
