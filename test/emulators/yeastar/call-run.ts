import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EventHub } from './event-hub.js';
import { formatCdrTime, formatEventTime, formatFileTime, type CdrRow, type PbxState } from './state.js';
import { buildWav } from './wav.js';

/**
 * One call being played: holds its members and emits the PBX events for it.
 * 30011 is a snapshot of the members present now (https://help.yeastar.com/en/p-series-software-edition/developer-guide/event-call-status-changed.html);
 * a member that hung up is sent once with BYE and then disappears. 30012 is sent once per leg when the call ends
 * (https://help.yeastar.com/en/p-series-software-edition/developer-guide/event-new-cdr.html), and cdr/search shows one row per leg
 * (omarhishambadawi/milaportal:docs/yeastar/live-audit-2026-07-30.md).
 */

export type MemberStatus = 'ALERT' | 'RING' | 'ANSWERED' | 'ANSWER' | 'HOLD' | 'BYE' | 'EARLYMEDIA';

interface ExtensionMember {
  kind: 'extension';
  number: string;
  channel_id: string;
  member_status: MemberStatus;
  call_path: string;
}

interface TrunkMember {
  kind: 'inbound' | 'outbound';
  from: string;
  to: string;
  trunk_name: string;
  channel_id: string;
  member_status: MemberStatus;
  call_path: string;
}

export type Member = ExtensionMember | TrunkMember;

export type WireMember =
  | { extension: Omit<ExtensionMember, 'kind'> }
  | { inbound: Omit<TrunkMember, 'kind'> }
  | { outbound: Omit<TrunkMember, 'kind'> };

export interface LegSpec {
  from: string;
  to: string;
  disposition: CdrRow['disposition'];
  callType: CdrRow['call_type'];
  /** Omitted on IVR legs, which report no ring_duration (live audit). */
  ringSeconds?: number;
  talkSeconds: number;
  srcTrunk?: string;
  dstTrunk?: string;
  did?: string;
  record?: boolean;
  /** PBX seconds after the call start at which this leg began. */
  offsetSeconds?: number;
}

export interface RunDeps {
  state: PbxState;
  hub: EventHub;
  recordingsDir: string;
}

export class CallRun {
  readonly callId: string;
  readonly startedAt: number;
  private readonly members: Member[] = [];
  /** PBX seconds played so far; CDR durations use it, not wall time, so a fast run still logs realistic durations. */
  elapsed = 0;
  private hangupRequested = false;
  private continued = false;
  private wake: (() => void) | undefined;
  private holdRelease: (() => void) | undefined;
  private readonly uid: string;

  constructor(private readonly deps: RunDeps, private readonly speed: number, callId?: string) {
    this.callId = callId ?? deps.state.newCallId();
    this.startedAt = deps.state.now();
    this.uid = `${formatFileTime(this.startedAt)}${randomBytes(3).toString('hex').toUpperCase().slice(0, 5)}`;
  }

  /** The PBX this call runs on (its Control Inbound Call trunks). */
  get state(): PbxState {
    return this.deps.state;
  }

  get hungUp(): boolean {
    return this.hangupRequested;
  }

  /** Waits `pbxSeconds` scaled by speed; a hang-up request cuts it short. */
  async pause(pbxSeconds: number): Promise<void> {
    this.elapsed += pbxSeconds;
    if (this.hangupRequested) return;
    const ms = (pbxSeconds * 1000) / this.speed;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** Stops here until the harness says `continue` (or someone hangs the call up). */
  async holdUntilContinued(): Promise<void> {
    if (this.hangupRequested || this.continued) return;
    await new Promise<void>((resolve) => {
      this.holdRelease = () => {
        this.holdRelease = undefined;
        resolve();
      };
    });
  }

  /**
   * `continue` may arrive before the script reaches its hold point (a test reacts to an early event): it is remembered,
   * so the call then goes straight through instead of waiting forever.
   */
  release(): void {
    this.continued = true;
    this.holdRelease?.();
  }

  requestHangup(): void {
    this.hangupRequested = true;
    this.wake?.();
    this.holdRelease?.();
  }

  isHeld(): boolean {
    return this.holdRelease !== undefined;
  }

  channelFor(number: string): string {
    return `PJSIP/${number}-${this.deps.state.newChannelSuffix()}`;
  }

  trunkChannel(trunk: string): string {
    return `PJSIP/trunk-${trunk}-endpoint-${this.deps.state.newChannelSuffix()}`;
  }

  addExtension(number: string, status: MemberStatus, callPath = ''): ExtensionMember {
    const member: ExtensionMember = { kind: 'extension', number, channel_id: this.channelFor(number), member_status: status, call_path: callPath };
    this.members.push(member);
    return member;
  }

  addTrunk(kind: 'inbound' | 'outbound', from: string, to: string, trunk: string, status: MemberStatus, callPath = ''): TrunkMember {
    const member: TrunkMember = { kind, from, to, trunk_name: trunk, channel_id: this.trunkChannel(trunk), member_status: status, call_path: callPath };
    this.members.push(member);
    return member;
  }

  /** Extensions are listed before the trunk member, as in capture #3. */
  wireMembers(): WireMember[] {
    const order = (m: Member): number => (m.kind === 'extension' ? 0 : 1);
    return [...this.members].sort((a, b) => order(a) - order(b)).map(toWire);
  }

  memberList(): Member[] {
    return [...this.members];
  }

  findByChannel(channelId: string): Member | undefined {
    return this.members.find((m) => m.channel_id === channelId);
  }

  /** Emits a 30011 snapshot, then drops members that said BYE. */
  snapshot(): void {
    this.deps.hub.emit(30011, { call_id: this.callId, members: this.wireMembers() });
    this.dropGone();
  }

  emit(type: number, extra: Record<string, unknown> = {}): void {
    this.deps.hub.emit(type, { call_id: this.callId, ...extra, members: this.wireMembers() });
  }

  /** 30015 Call Failed: `reason` plus the members as they were (capture #5); the call is over afterwards. */
  fail(reason: string, members: WireMember[] | null = this.wireMembers()): void {
    this.deps.hub.emit(30015, { call_id: this.callId, reason, members });
    this.members.length = 0;
  }

  /** 30008 Extension Call Status Changed: Ringing / Busy / Idle. */
  extensionStatus(number: string, status: 'Ringing' | 'Busy' | 'Idle'): void {
    this.deps.hub.emit(30008, { extension: number, status });
  }

  dropGone(): void {
    for (let i = this.members.length - 1; i >= 0; i -= 1) {
      if (this.members[i]?.member_status === 'BYE') this.members.splice(i, 1);
    }
  }

  /** Writes the CDR row (and the WAV when recorded) and emits its 30012. */
  async leg(spec: LegSpec): Promise<CdrRow> {
    const { state, hub } = this.deps;
    // Leg start in wall time: offsets scale with speed so a fast run never writes CDR rows dated in the future.
    const legStart = this.startedAt + Math.round(((spec.offsetSeconds ?? 0) * 1000) / this.speed);
    const ring = spec.ringSeconds ?? 0;
    const duration = ring + spec.talkSeconds;
    // A voicemail leg's file is the caller's message (see the inbound-voicemail scenario).
    const recorded = spec.record === true && (spec.disposition === 'ANSWERED' || spec.disposition === 'VOICEMAIL') && spec.talkSeconds > 0;
    const file = recorded ? `${formatFileTime(legStart)}-${this.callId}-${spec.from}-${spec.to}-${spec.callType}.wav` : '';
    if (recorded) await this.writeRecording(file, spec, legStart);
    const from = state.displayParty(spec.from);
    const to = state.displayParty(spec.to);
    const row: CdrRow = {
      id: state.nextId('cdr'),
      time: formatCdrTime(legStart),
      call_from: from.display,
      call_to: to.display,
      timestamp: Math.floor(legStart / 1000),
      uid: this.uid,
      src_addr: spec.srcTrunk ? '127.0.0.1:5060' : '',
      src_trunk: spec.srcTrunk ?? '',
      dst_trunk: spec.dstTrunk ?? '',
      duration,
      ...(spec.ringSeconds === undefined ? {} : { ring_duration: spec.ringSeconds }),
      talk_duration: spec.talkSeconds,
      disposition: spec.disposition,
      call_type: spec.callType,
      // In every scenario the outside party (or the callee of an internal call) hangs up first.
      reason: spec.callType === 'Inbound' ? 'src hangup    ' : 'dst hangup    ',
      did_number: spec.did ?? '',
      dod_number: '',
      record_file: file,
      call_from_number: spec.from,
      call_from_name: from.name,
      call_to_number: spec.to,
      call_to_name: to.name,
      call_id: this.callId,
      call_note: null,
      call_note_id: '',
      enb_call_note: 1,
      did: spec.did ?? '',
      did_name: '',
      pin_code: '',
      new_id: `${randomBytes(4).toString('hex').toUpperCase()}-${randomBytes(4).toString('hex').toUpperCase()}`,
    };
    state.cdr.push(row);
    // 30012 carries the older, smaller field set of the captures (no uid/ring_duration): clients must not need more.
    hub.emit(30012, {
      call_id: this.callId,
      time_start: formatEventTime(legStart),
      call_from: spec.from,
      call_to: spec.to,
      call_duration: duration,
      talk_duration: spec.talkSeconds,
      src_trunk_name: spec.srcTrunk ?? '',
      dst_trunk_name: spec.dstTrunk ?? '',
      pin_code: '',
      status: spec.disposition,
      type: spec.callType,
      recording: file,
      did_number: spec.did ?? '',
      agent_ring_time: ring,
    });
    return row;
  }

  private async writeRecording(file: string, spec: LegSpec, legStart: number): Promise<void> {
    const { state, recordingsDir } = this.deps;
    const wav = buildWav(spec.talkSeconds);
    const path = join(recordingsDir, file);
    await writeFile(path, wav);
    state.recordings.push({
      id: state.nextId('recording'),
      file,
      path,
      size: wav.length,
      timestamp: Math.floor(legStart / 1000),
      uid: this.uid,
      callId: this.callId,
      call_from: state.displayParty(spec.from).display,
      call_to: state.displayParty(spec.to).display,
      call_type: spec.callType,
      duration: spec.talkSeconds,
    });
  }
}

function toWire(m: Member): WireMember {
  if (m.kind === 'extension') {
    const { kind: _kind, ...rest } = m;
    return { extension: rest };
  }
  const { kind, ...rest } = m;
  return kind === 'inbound' ? { inbound: rest } : { outbound: rest };
}
