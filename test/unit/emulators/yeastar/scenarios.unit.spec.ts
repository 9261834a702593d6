import { readFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { inboundControlOf } from '../../../emulators/yeastar/inbound-control.js';
import { parseWav } from '../../../emulators/yeastar/wav.js';
import type { EmittedEvent, ScenarioName } from '../../../emulators/yeastar/types.js';
import { startPbx, type Pbx } from './pbx-client.js';

// Each scripted call must emit the sequence the reference describes (§3.4 snapshots, §3.5 per-leg 30012, §7 captures),
// and write one CDR row per leg; the adapter's normalizer is tested against exactly these shapes.

let pbx: Pbx;
beforeEach(async () => {
  pbx = await startPbx();
});
afterEach(async () => {
  await pbx.close();
});

type Members = Record<string, Record<string, string>>[] | null;

/** One line per event: "30011 1001:RING inbound:ALERT", "30012 Inbound +1…->1001 ANSWERED talk=30 rec=y". */
function line(e: EmittedEvent): string {
  const m = e.msg;
  if (e.type === 30008) return `30008 ${String(m.extension)}=${String(m.status)}`;
  if (e.type === 30012) {
    return `30012 ${String(m.type)} ${String(m.call_from)}->${String(m.call_to)} ${String(m.status)} talk=${String(m.talk_duration)} rec=${m.recording ? 'y' : 'n'}`;
  }
  const members = m.members as Members;
  const text = members === null ? 'null' : members.map((x) => {
    const [kind, v] = Object.entries(x)[0] ?? ['?', {}];
    return `${kind === 'extension' ? v.number : kind}:${v.member_status}${v.call_path ? `@${v.call_path}` : ''}`;
  }).join(' ');
  return `${e.type}${typeof m.reason === 'string' ? ` [${m.reason}]` : ''} ${text}`;
}

async function play(name: ScenarioName, opts: Parameters<Pbx['emu']['board']['start']>[1] = {}): Promise<{ callId: string; lines: string[]; events: EmittedEvent[] }> {
  const { callId, done } = pbx.emu.board.start(name, opts);
  await done;
  const events = pbx.emu.hub.events().filter((e) => e.type === 30008 || e.callId === callId);
  return { callId, lines: events.map(line), events };
}

const EXT = '+15550123456';

describe('Yeastar emulator scenarios', () => {
  it('only a trunk with Control Inbound Call on sends the 30016 invitation, and holds the call until the window ends', async () => {
    const control = inboundControlOf(pbx.emu.state);
    control.controlled.add('Trunk-C');
    control.windowMs = 30;
    const { lines } = await play('inbound-answered', { from: EXT, to: '1002', did: '+15550200001', trunk: 'Trunk-C', talkSeconds: 1 });
    expect(lines.slice(0, 3)).toEqual(['30016 inbound:ALERT', '30011 inbound:ALERT', '30011 1002:RING inbound:ALERT']);
    expect(control.decisions).toMatchObject([{ decision: 'timeout' }]);
    const open = await play('inbound-answered', { from: EXT, to: '1002', did: '+15550200001', trunk: 'Trunk-A', talkSeconds: 1 });
    expect(open.lines.find((l) => !l.startsWith('30008'))).toBe('30011 inbound:ALERT');
  });

  it('inbound-answered: alert, ring, answer, hang-up, one ANSWERED CDR with recording', async () => {
    const { lines, callId, events } = await play('inbound-answered', { from: EXT, to: '1002', did: '+15550200001', trunk: 'Trunk-A', talkSeconds: 12 });
    expect(lines).toEqual([
      '30011 inbound:ALERT',
      '30011 1002:RING inbound:ALERT',
      '30008 1002=Ringing',
      '30011 1002:ANSWER inbound:ANSWERED',
      '30008 1002=Busy',
      '30011 1002:ANSWER inbound:BYE',
      '30011 1002:BYE',
      '30008 1002=Idle',
      `30012 Inbound ${EXT}->1002 ANSWERED talk=12 rec=y`,
    ]);
    const inbound = (events[0]?.msg.members as Members)?.[0]?.inbound;
    expect(inbound).toMatchObject({ from: EXT, to: '+15550200001', trunk_name: 'Trunk-A', member_status: 'ALERT', call_path: '' });
    expect(inbound?.channel_id).toMatch(/^PJSIP\/trunk-Trunk-A-endpoint-[0-9a-f]{8}$/);
    expect(callId).toMatch(/^\d{10}\.\d+$/);
    const cdr = pbx.emu.state.cdr.filter((r) => r.call_id === callId);
    expect(cdr).toHaveLength(1);
    expect(cdr[0]).toMatchObject({
      call_from: EXT, call_to: 'Bob Jones<1002>', call_to_number: '1002', call_to_name: 'Bob Jones', disposition: 'ANSWERED',
      call_type: 'Inbound', talk_duration: 12, ring_duration: 4, duration: 16, src_trunk: 'Trunk-A', did_number: '+15550200001',
    });
    expect(cdr[0]?.record_file).toMatch(new RegExp(`^\\d{14}-${callId.replace('.', '\\.')}-\\+15550123456-1002-Inbound\\.wav$`));
  });

  it('writes a real WAV whose length matches the talk time', async () => {
    const { callId } = await play('inbound-answered', { talkSeconds: 7 });
    const rec = pbx.emu.state.recordings.find((r) => r.callId === callId);
    expect(rec).toBeDefined();
    const info = parseWav(await readFile(rec?.path ?? ''));
    expect(info).toEqual({ sampleRate: 8000, channels: 1, bitsPerSample: 8, seconds: 7 });
  });

  it('inbound-missed: 30015 "487 Request Terminated" then NO ANSWER (capture #5)', async () => {
    const { lines } = await play('inbound-missed');
    expect(lines).toEqual([
      '30011 inbound:ALERT',
      '30011 1001:RING inbound:ALERT',
      '30008 1001=Ringing',
      '30015 [487 Request Terminated] 1001:RING inbound:BYE',
      '30008 1001=Idle',
      `30012 Inbound ${EXT}->1001 NO ANSWER talk=0 rec=n`,
    ]);
  });

  it('inbound-busy: failure reason and a BUSY CDR', async () => {
    const { lines } = await play('inbound-busy', { reason: 'User Busy' });
    expect(lines).toEqual([
      '30011 inbound:ALERT',
      '30015 [User Busy] 1001:BYE inbound:BYE',
      `30012 Inbound ${EXT}->1001 BUSY talk=0 rec=n`,
    ]);
  });

  it('ring-group: all ring with the group as call_path, the chosen one answers; NO ANSWER legs then the ANSWERED leg', async () => {
    const { lines, callId } = await play('ring-group', { to: ['1001', '1002', '1003'], answeredBy: '1002' });
    expect(lines.filter((l) => !l.startsWith('30008'))).toEqual([
      '30011 inbound:ALERT',
      '30011 1001:RING@6300 1002:RING@6300 1003:RING@6300 inbound:ALERT@6300',
      '30011 1001:BYE@6300 1002:ANSWER@6300 1003:BYE@6300 inbound:ANSWERED@6300',
      '30011 1002:ANSWER@6300 inbound:BYE@6300',
      '30011 1002:BYE@6300',
      `30012 Inbound ${EXT}->1001 NO ANSWER talk=0 rec=n`,
      `30012 Inbound ${EXT}->1003 NO ANSWER talk=0 rec=n`,
      `30012 Inbound ${EXT}->1002 ANSWERED talk=30 rec=y`,
    ]);
    expect(pbx.emu.state.cdr.filter((r) => r.call_id === callId)).toHaveLength(3);
  });

  it('queue-ivr: IVR leg ANSWERED without ring_duration, a missed agent leg, the recorded agent leg', async () => {
    const { lines, callId } = await play('queue-ivr', { to: ['1001', '1002'], talkSeconds: 20 });
    expect(lines.filter((l) => !l.startsWith('30008'))).toEqual([
      '30011 inbound:ALERT',
      '30011 inbound:ANSWERED@6200',
      '30011 1001:RING@6400 inbound:ANSWERED@6400',
      '30011 1001:BYE@6400 inbound:ANSWERED@6400',
      '30011 1002:RING@6400 inbound:ANSWERED@6400',
      '30011 1002:ANSWER@6400 inbound:ANSWERED@6400',
      '30011 1002:ANSWER@6400 inbound:BYE@6400',
      '30011 1002:BYE@6400',
      `30012 Inbound ${EXT}->6200 ANSWERED talk=36 rec=n`,
      `30012 Inbound ${EXT}->1001 NO ANSWER talk=0 rec=n`,
      `30012 Inbound ${EXT}->1002 ANSWERED talk=20 rec=y`,
    ]);
    const rows = pbx.emu.state.cdr.filter((r) => r.call_id === callId);
    expect(rows.map((r) => r.call_to)).toEqual(['Main IVR<6200>', 'Alice Smith<1001>', 'Bob Jones<1002>']);
    expect(rows[0]?.ring_duration).toBeUndefined();
    expect(new Set(rows.map((r) => r.uid)).size).toBe(1);
    expect(new Set(rows.map((r) => r.new_id)).size).toBe(3);
  });

  it('blind-transfer: 30013 from the transferor, then the target rings and answers; one leg each', async () => {
    const { lines } = await play('blind-transfer', { to: ['1001', '1003'], talkSeconds: 30 });
    expect(lines.filter((l) => !l.startsWith('30008'))).toEqual([
      '30011 inbound:ALERT',
      '30011 1001:RING inbound:ALERT',
      '30011 1001:ANSWER inbound:ANSWERED',
      '30013 1001:ANSWER inbound:ANSWERED',
      '30011 1001:BYE inbound:ANSWERED',
      '30011 1003:RING inbound:ANSWERED',
      '30011 1003:ANSWER inbound:ANSWERED',
      '30011 1003:ANSWER inbound:BYE',
      '30011 1003:BYE',
      `30012 Inbound ${EXT}->1001 ANSWERED talk=10 rec=y`,
      `30012 Inbound ${EXT}->1003 ANSWERED talk=20 rec=y`,
    ]);
  });

  it('outbound-answered: the extension alerts, the outbound trunk member rings then answers', async () => {
    const { lines, events, callId } = await play('outbound-answered', { from: '1004', to: '+4930123456', trunk: 'Out-1' });
    expect(lines.filter((l) => !l.startsWith('30008'))).toEqual([
      '30011 1004:ALERT',
      '30011 1004:ALERT outbound:RING',
      '30011 1004:ANSWERED outbound:ANSWER',
      '30011 1004:ANSWERED outbound:BYE',
      '30011 1004:BYE',
      '30012 Outbound 1004->+4930123456 ANSWERED talk=30 rec=y',
    ]);
    const outbound = (events.find((e) => e.type === 30011 && JSON.stringify(e.msg).includes('outbound'))?.msg.members as Members)?.[1]?.outbound;
    expect(outbound).toMatchObject({ from: '1004', to: '+4930123456', trunk_name: 'Out-1' });
    expect(pbx.emu.state.cdr.find((r) => r.call_id === callId)).toMatchObject({ call_from: 'Dave Brown<1004>', dst_trunk: 'Out-1', call_type: 'Outbound' });
  });

  it('outbound-failed: 30015 with the reason, then FAILED with zero durations (capture #7)', async () => {
    const { lines, events } = await play('outbound-failed', { reason: '404 NOT found' });
    expect(lines.filter((l) => !l.startsWith('30008'))).toEqual([
      '30011 1001:ALERT',
      '30015 [404 NOT found] 1001:BYE',
      `30012 Outbound 1001->${EXT} FAILED talk=0 rec=n`,
    ]);
    expect(events.at(-1)?.msg).toMatchObject({ call_duration: 0, talk_duration: 0, src_trunk_name: '', dst_trunk_name: '', status: 'FAILED' });
  });

  it('internal: caller ALERT / callee RING, then ANSWERED / ANSWER; type Internal', async () => {
    const { lines } = await play('internal', { from: '1003', to: '1001', record: false });
    expect(lines.filter((l) => !l.startsWith('30008'))).toEqual([
      '30011 1003:ALERT 1001:RING',
      '30011 1003:ANSWERED 1001:ANSWER',
      '30011 1003:ANSWERED 1001:BYE',
      '30011 1003:BYE',
      '30012 Internal 1003->1001 ANSWERED talk=30 rec=n',
    ]);
  });

  it('refuses scenarios naming numbers the PBX does not have', () => {
    expect(() => pbx.emu.board.start('inbound-answered', { to: '9999' })).toThrow(/not an extension/);
    expect(() => pbx.emu.board.start('outbound-answered', { from: '9999' })).toThrow(/not an extension/);
    expect(() => pbx.emu.board.start('ring-group', { to: ['1001'], answeredBy: '1002' })).toThrow(/answeredBy/);
  });

  it('hold stops before the hang-up until continued; call/query shows the live members meanwhile', async () => {
    const { callId, done } = pbx.emu.board.start('inbound-answered', { hold: true });
    await new Promise((r) => setTimeout(r, 100));
    expect(pbx.emu.board.held()).toEqual([callId]);
    const token = await pbx.login();
    const query = await pbx.api('call/query', { token });
    expect(query).toMatchObject({ errcode: 0, data: [{ call_id: callId }] });
    expect(pbx.emu.hub.events().some((e) => e.type === 30012 && e.callId === callId)).toBe(false);
    expect(pbx.emu.board.release(callId)).toBe(true);
    await done;
    expect(pbx.emu.hub.events().filter((e) => e.type === 30012 && e.callId === callId)).toHaveLength(1);
    expect(await pbx.api('call/query', { token })).toEqual({ errcode: 0, errmsg: 'SUCCESS' });
  });

  it('a continue that arrives before the hold point is remembered (no hang)', async () => {
    const { callId, done } = pbx.emu.board.start('inbound-answered', { hold: true, talkSeconds: 200 });
    expect(pbx.emu.board.release(callId)).toBe(true);
    expect(pbx.emu.board.held()).toEqual([]);
    await done;
    expect(pbx.emu.state.cdr.filter((r) => r.call_id === callId)).toHaveLength(1);
    expect(pbx.emu.board.release(callId)).toBe(false);
  });

  it('call/hangup by channel_id ends a held call', async () => {
    const { callId, done } = pbx.emu.board.start('outbound-answered', { hold: true });
    await new Promise((r) => setTimeout(r, 100));
    const channel = pbx.emu.board.query(callId)[0]?.members.map((m) => ('outbound' in m ? m.outbound.channel_id : '')).find(Boolean);
    const token = await pbx.login();
    expect(await pbx.api('call/hangup', { token, body: { channel_id: channel } })).toEqual({ errcode: 0, errmsg: 'SUCCESS', call_id: callId });
    await done;
    expect(await pbx.api('call/hangup', { token, body: { channel_id: channel } })).toMatchObject({ errcode: 60001 });
  });

  it('call/hangup while ringing turns the call into a missed one', async () => {
    const { callId, done } = pbx.emu.board.start('inbound-answered', { speed: 1, ringSeconds: 5 });
    await new Promise((r) => setTimeout(r, 100));
    const ring = pbx.emu.board.query(callId)[0]?.members.map((m) => ('extension' in m ? m.extension.channel_id : '')).find(Boolean) ?? '';
    expect(pbx.emu.board.hangupChannel(ring)).toBe(callId);
    await done;
    const lines = pbx.emu.hub.events().filter((e) => e.callId === callId).map(line);
    expect(lines.slice(-2)).toEqual(['30015 [487 Request Terminated] 1001:RING inbound:BYE', `30012 Inbound ${EXT}->1001 NO ANSWER talk=0 rec=n`]);
  });

  it('speed scales wall time: speed 1 takes real seconds, the default takes milliseconds', async () => {
    // A fake clock, not a stopwatch: the call's pauses are timers, so how far the clock must move before the call
    // ends is the speed's effect, whatever the machine's load.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const ended: string[] = [];
      const slow = pbx.emu.board.start('internal', { talkSeconds: 1, ringSeconds: 0.2, speed: 1 }).done.then(() => { ended.push('speed 1'); });
      await vi.advanceTimersByTimeAsync(1_100);
      expect(ended).toEqual([]);
      await vi.advanceTimersByTimeAsync(900);
      await slow;
      const fast = pbx.emu.board.start('internal', { talkSeconds: 600 }).done.then(() => { ended.push('default'); });
      await vi.advanceTimersByTimeAsync(1_500);
      await fast;
      expect(ended).toEqual(['speed 1', 'default']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('burst plays many calls with bounded concurrency', async () => {
    const result = await pbx.emu.board.burst({ calls: 25, concurrency: 5, scenario: 'inbound-answered', record: false });
    expect(new Set(result.callIds).size).toBe(25);
    expect(pbx.emu.state.cdr).toHaveLength(25);
  });
});

describe('Yeastar emulator click-to-call (call/dial)', () => {
  it('rings the caller first, then dials out through the trunk', async () => {
    const token = await pbx.login();
    const answer = await pbx.api('call/dial', { token, body: { caller: '1001', callee: '+15557654321', auto_answer: 'no' } });
    expect(answer).toMatchObject({ errcode: 0, errmsg: 'SUCCESS' });
    const callId = String(answer.call_id);
    await pbx.emu.board.idle();
    const lines = pbx.emu.hub.events().filter((e) => e.callId === callId).map(line);
    expect(lines).toEqual([
      '30011 1001:RING',
      '30011 1001:ANSWERED',
      '30011 1001:ANSWERED outbound:RING',
      '30011 1001:ANSWERED outbound:ANSWER',
      '30011 1001:ANSWERED outbound:BYE',
      '30011 1001:BYE',
      '30012 Outbound 1001->+15557654321 ANSWERED talk=20 rec=y',
    ]);
  });

  it('an unknown caller fails asynchronously with 30015 (members null)', async () => {
    const token = await pbx.login();
    const answer = await pbx.api('call/dial', { token, body: { caller: '7777', callee: '1001' } });
    expect(answer.errcode).toBe(0);
    await pbx.emu.board.idle();
    const events = pbx.emu.hub.events().filter((e) => e.callId === answer.call_id);
    expect(events.map((e) => e.type)).toEqual([30015]);
    expect(events[0]?.msg).toMatchObject({ reason: 'NOT found', members: null });
  });

  it('caller not answering ends with 30015 and a NO ANSWER CDR', async () => {
    pbx.emu.board.setDialBehavior({ callerAnswers: false });
    const token = await pbx.login();
    const answer = await pbx.api('call/dial', { token, body: { caller: '1001', callee: '1002' } });
    await pbx.emu.board.idle();
    const lines = pbx.emu.hub.events().filter((e) => e.callId === answer.call_id).map(line);
    expect(lines).toEqual(['30011 1001:RING', '30015 [480 Temporatily Unavailable] 1001:BYE', '30012 Internal 1001->1002 NO ANSWER talk=0 rec=n']);
  });

  it('requires caller and callee', async () => {
    const token = await pbx.login();
    expect(await pbx.api('call/dial', { token, body: { caller: '1001' } }))
      .toEqual({ errcode: 40002, errmsg: 'PARAMETER ERROR', invalid_param_list: [{ field: 'callee', validation_type: 'required' }] });
  });
});
