import { CallRun, type RunDeps } from './call-run.js';
import { resolveOptions, SCRIPTS } from './scenarios.js';
import { DEFAULT_TRUNK } from './state.js';
import type { BurstOptions, BurstResult, DialBehavior, ScenarioName, ScenarioOptions } from './types.js';

/**
 * The calls in progress: starts scenarios and click-to-call, answers call/query, call/hangup and the harness's `continue`.
 */

interface Live {
  run: CallRun;
  done: Promise<void>;
}

export class Switchboard {
  private readonly live = new Map<string, Live>();
  private dialBehavior: DialBehavior = { callerAnswers: true, calleeAnswers: true, talkSeconds: 20, ringSeconds: 3, record: true, hold: false };

  constructor(private readonly deps: RunDeps) {}

  start(name: ScenarioName, opts: ScenarioOptions): { callId: string; done: Promise<void> } {
    const resolved = resolveOptions(name, opts, (n) => this.deps.state.isExtension(n));
    const run = new CallRun(this.deps, opts.speed ?? this.deps.state.options.defaultSpeed);
    return this.track(run, SCRIPTS[name](run, resolved));
  }

  async burst(opts: BurstOptions): Promise<BurstResult> {
    const started = Date.now();
    const { calls, concurrency = 10, scenario, ...rest } = opts;
    const callIds: string[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < calls) {
        next += 1;
        const { callId, done } = this.start(scenario, { ...rest, hold: false });
        callIds.push(callId);
        await done;
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, calls)) }, () => worker()));
    return { callIds, elapsedMs: Date.now() - started };
  }

  setDialBehavior(behavior: Partial<DialBehavior>): DialBehavior {
    this.dialBehavior = { ...this.dialBehavior, ...behavior };
    return this.dialBehavior;
  }

  /**
   * call/dial (https://help.yeastar.com/en/p-series-appliance-edition/developer-guide/make-a-call.html): the caller extension rings first;
   * once it answers, the PBX dials the callee (through a trunk when it is not an extension). Failures are reported
   * asynchronously by 30015, e.g. an unknown caller ("NOT found" with members null, as in pienaahj/pbx-api captures).
   */
  dial(caller: string, callee: string, opts: { autoAnswer?: boolean } = {}): string {
    // auto_answer=yes: the IP phone picks up by itself, so the caller leg rings only briefly.
    const b = this.dialBehavior;
    const callerRing = opts.autoAnswer ? 0.5 : b.ringSeconds;
    const run = new CallRun(this.deps, b.speed ?? this.deps.state.options.defaultSpeed);
    this.track(run, this.playDial(run, caller, callee, { ...b, callerAnswers: b.callerAnswers || opts.autoAnswer === true }, callerRing));
    return run.callId;
  }

  async idle(): Promise<void> {
    await Promise.allSettled([...this.live.values()].map((l) => l.done));
  }

  /** True when the call is still in progress (it will now run to its end), false when unknown or already over. */
  release(callId: string): boolean {
    const live = this.live.get(callId);
    live?.run.release();
    return live !== undefined;
  }

  /** call/hangup by channel_id (https://help.yeastar.com/en/p-series-appliance-edition/developer-guide/hang-up-a-call.html). */
  hangupChannel(channelId: string): string | undefined {
    for (const { run } of this.live.values()) {
      if (run.findByChannel(channelId)) {
        run.requestHangup();
        return run.callId;
      }
    }
    return undefined;
  }

  /** call/query rows: `{call_id, members[]}` with the 30011 member objects (milaportal samples/call-query.json). */
  query(callId?: string): { call_id: string; members: ReturnType<CallRun['wireMembers']> }[] {
    return [...this.live.values()]
      .map((l) => l.run)
      .filter((r) => (callId ? r.callId === callId : true) && r.memberList().length > 0)
      .map((r) => ({ call_id: r.callId, members: r.wireMembers() }));
  }

  held(): string[] {
    return [...this.live.values()].filter((l) => l.run.isHeld()).map((l) => l.run.callId);
  }

  /** The emulator's own hang-up (the demo's button): every call in progress, or one, ends at whatever point it is. */
  hangUp(callId?: string): string[] {
    const runs = [...this.live.values()].map((l) => l.run).filter((run) => callId === undefined || run.callId === callId);
    for (const run of runs) run.requestHangup();
    return runs.map((run) => run.callId);
  }

  /** Hangs every call up (they run straight to their end) and waits for them: used when the PBX shuts down. */
  async hangUpAll(): Promise<void> {
    for (const { run } of this.live.values()) run.requestHangup();
    await this.idle();
  }

  private track(run: CallRun, script: Promise<void>): { callId: string; done: Promise<void> } {
    const done = script.finally(() => this.live.delete(run.callId));
    // Nobody may await a scenario started without `wait`: report its failure instead of an unhandled rejection.
    done.catch((err: unknown) => process.stderr.write(`yeastar emulator: call ${run.callId} failed: ${err instanceof Error ? err.message : String(err)}\n`));
    this.live.set(run.callId, { run, done });
    return { callId: run.callId, done };
  }

  private async playDial(run: CallRun, caller: string, callee: string, b: DialBehavior, callerRing: number): Promise<void> {
    await run.pause(0.05);
    if (!this.deps.state.isExtension(caller)) {
      run.fail('NOT found', null);
      return;
    }
    const calleeIsExt = this.deps.state.isExtension(callee);
    const callType = calleeIsExt ? 'Internal' : 'Outbound';
    const ext = run.addExtension(caller, 'RING');
    run.snapshot();
    run.extensionStatus(caller, 'Ringing');
    await run.pause(callerRing);
    if (!b.callerAnswers || run.hungUp) {
      ext.member_status = 'BYE';
      run.fail('480 Temporatily Unavailable');
      run.extensionStatus(caller, 'Idle');
      await run.leg({ from: caller, to: callee, disposition: 'NO ANSWER', callType, ringSeconds: callerRing, talkSeconds: 0 });
      return;
    }
    ext.member_status = 'ANSWERED';
    run.snapshot();
    run.extensionStatus(caller, 'Busy');
    const far = calleeIsExt ? run.addExtension(callee, 'RING') : run.addTrunk('outbound', caller, callee, DEFAULT_TRUNK, 'RING');
    run.snapshot();
    if (calleeIsExt) run.extensionStatus(callee, 'Ringing');
    await run.pause(b.ringSeconds);
    // The far end hangs up first, then the caller's phone: one report each, as the PBX sends them.
    const hangUpBoth = (): void => {
      far.member_status = 'BYE';
      run.snapshot();
      ext.member_status = 'BYE';
      run.snapshot();
      run.extensionStatus(caller, 'Idle');
      if (calleeIsExt) run.extensionStatus(callee, 'Idle');
    };
    if (!b.calleeAnswers || run.hungUp) {
      hangUpBoth();
      await run.leg({ from: caller, to: callee, disposition: 'NO ANSWER', callType, ringSeconds: b.ringSeconds, talkSeconds: 0, dstTrunk: calleeIsExt ? '' : DEFAULT_TRUNK });
      return;
    }
    far.member_status = 'ANSWER';
    run.snapshot();
    if (calleeIsExt) run.extensionStatus(callee, 'Busy');
    await run.pause(b.talkSeconds);
    if (b.hold) await run.holdUntilContinued();
    hangUpBoth();
    await run.leg({
      from: caller, to: callee, disposition: 'ANSWERED', callType, ringSeconds: b.ringSeconds, talkSeconds: b.talkSeconds,
      dstTrunk: calleeIsExt ? '' : DEFAULT_TRUNK, record: b.record, offsetSeconds: callerRing,
    });
  }
}

