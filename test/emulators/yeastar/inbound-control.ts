/**
 * Control Inbound Call: a trunk with it on holds each inbound call for up to 10 s and sends (30016) Incoming Call
 * Request; the application then accepts it (the PBX routes it by its inbound route), refuses it (dropped, the
 * destination never rings) or, here, sends it to a chosen extension; past the window the PBX accepts it itself and
 * calls after that have no effect.
 * https://help.yeastar.com/en/p-series-appliance-edition/developer-guide/accept-a-call.html,
 * https://help.yeastar.com/en/p-series-appliance-edition/developer-guide/refuse-a-call.html
 * Left open by the docs: how a held call is sent to a chosen extension. No "redirect inbound" endpoint is documented;
 * the emulator honours call/transfer (type blind, `number` = an extension) on the held trunk channel
 * (https://help.yeastar.com/en/p-series-appliance-edition/developer-guide/transfer-a-call.html) — UNCONFIRMED that a
 * real PBX accepts a transfer of a call not yet routed. The error a late accept/refuse gets is not documented either:
 * the emulator answers DATA NOT FOUND (60001) as for any unknown channel.
 * The window is wall-clock time even when the emulator plays calls faster: the application's decision takes real time.
 */
import { errors, str, success, type RestAnswer, type RestContext } from './envelope.js';
import type { PbxState } from './state.js';

export type InboundDecision = { kind: 'accept' } | { kind: 'refuse' } | { kind: 'redirect'; to: string } | { kind: 'timeout' };

export interface DecisionRecord {
  callId: string;
  decision: InboundDecision['kind'];
  to?: string;
  /** Wall-clock ms from the 30016 to the decision (or to the window's end). */
  afterMs: number;
}

interface Held {
  callId: string;
  since: number;
  settle(decision: InboundDecision): void;
}

export class InboundControl {
  /** Trunk names with Control Inbound Call on. */
  readonly controlled = new Set<string>();
  windowMs = 10_000;
  readonly decisions: DecisionRecord[] = [];
  private readonly held = new Map<string, Held>();

  /** Holds the call until the application decides or the window ends (then the inbound route takes it). */
  hold(callId: string, channelId: string): Promise<InboundDecision> {
    return new Promise((resolve) => {
      const since = Date.now();
      const timer = setTimeout(() => this.settle(channelId, { kind: 'timeout' }), this.windowMs);
      this.held.set(channelId, {
        callId, since,
        settle: (decision) => {
          clearTimeout(timer);
          resolve(decision);
        },
      });
    });
  }

  /** The call id of the held call the decision applied to, or undefined (not held, or the window is over). */
  settle(channelId: string, decision: InboundDecision): string | undefined {
    const held = this.held.get(channelId);
    if (!held) return undefined;
    this.held.delete(channelId);
    this.decisions.push({
      callId: held.callId, decision: decision.kind, ...(decision.kind === 'redirect' ? { to: decision.to } : {}), afterMs: Date.now() - held.since,
    });
    held.settle(decision);
    return held.callId;
  }

  isHeld(channelId: string): boolean {
    return this.held.has(channelId);
  }
}

const controls = new WeakMap<PbxState, InboundControl>();

export function inboundControlOf(state: PbxState): InboundControl {
  let control = controls.get(state);
  if (!control) {
    control = new InboundControl();
    controls.set(state, control);
  }
  return control;
}

function decide(ctx: RestContext, state: PbxState, decision: InboundDecision): RestAnswer {
  const channel = str(ctx.body.channel_id);
  if (!channel) return errors.parameter([{ field: 'channel_id', validation_type: 'required' }]);
  const callId = inboundControlOf(state).settle(channel, decision);
  return callId ? success({ call_id: callId }) : errors.notFound();
}

/** POST call/accept_inbound {channel_id}. */
export const acceptInbound = (ctx: RestContext, state: PbxState): RestAnswer => decide(ctx, state, { kind: 'accept' });

/** POST call/refuse_inbound {channel_id}. */
export const refuseInbound = (ctx: RestContext, state: PbxState): RestAnswer => decide(ctx, state, { kind: 'refuse' });

/**
 * POST call/transfer {type, channel_id, number}: only a held inbound call is transferred here (blind, to an extension);
 * transfers of calls in progress are not emulated (INTERFACE NOT EXISTED, as before this endpoint existed).
 */
export function transferHeld(ctx: RestContext, state: PbxState): RestAnswer {
  const channel = str(ctx.body.channel_id);
  const number = str(ctx.body.number);
  const type = str(ctx.body.type);
  if (!channel) return errors.parameter([{ field: 'channel_id', validation_type: 'required' }]);
  if (!inboundControlOf(state).isHeld(channel)) return errors.interfaceNotExisted();
  if (type !== 'blind') return errors.parameter([{ field: 'type', validation_type: 'invalid' }]);
  if (!number || !state.isExtension(number)) return errors.parameter([{ field: 'number', validation_type: 'invalid' }]);
  return decide(ctx, state, { kind: 'redirect', to: number });
}
