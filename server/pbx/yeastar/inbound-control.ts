/**
 * Yeastar "Control Inbound Call": a trunk with it on holds each inbound call for up to 10 s and sends (30016) Incoming
 * Call Request; `call/accept_inbound {channel_id}` lets the PBX route it at once by its inbound route, and past the
 * window the PBX routes it itself (calls after that have no effect).
 * https://help.yeastar.com/en/p-series-appliance-edition/developer-guide/accept-a-call.html,
 * https://help.yeastar.com/en/p-series-appliance-edition/developer-guide/refuse-a-call.html,
 * https://help.yeastar.com/en/p-series-software-edition/developer-guide/event-inbound-call-invitation.html
 * Left open by the docs: no endpoint is documented for sending a held call to a chosen extension. We use the blind
 * `call/transfer {type: "blind", channel_id, number}` on the held trunk channel
 * (https://help.yeastar.com/en/p-series-appliance-edition/developer-guide/transfer-a-call.html) — UNCONFIRMED on a real
 * PBX; when it is refused the caller falls back to accept_inbound (calls/routing.ts), so the call is never lost.
 * Extension availability, as the PBX reports it: a member of a live call in `call/query` → busy (reference §4.2);
 * `presence_status` "do_not_disturb" in the extension list → dnd (the field of extension/list rows).
 */
import type { Logger } from '../../log.js';
import type { ExtensionAvailability, HeldInboundCall, InboundCallControl } from '../adapter.js';
import type { EventFrame } from './frames.js';
import type { YeastarRest } from './rest.js';

type CallStateFrame = Extract<EventFrame, { type: 30011 | 30013 | 30015 | 30016 }>;

/** The held caller leg of a 30016 frame: its `inbound` member (capture #4 in reference §7). */
export function heldCallOf(portal: string, frame: CallStateFrame, at: number): HeldInboundCall | undefined {
  const inbound = (frame.msg.members ?? []).map((m) => m?.inbound).find((p) => p?.channel_id);
  if (!inbound?.channel_id) return undefined;
  return { portal, pbxCallId: frame.msg.call_id, channelId: inbound.channel_id, from: inbound.from ?? '', did: inbound.to ?? '', at };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function createInboundControl(deps: { portal: string; rest: YeastarRest; log: Logger }): InboundCallControl & { frame(frame: CallStateFrame): void } {
  const listeners = new Set<(call: HeldInboundCall) => void>();
  return {
    frame(frame) {
      const call = heldCallOf(deps.portal, frame, Date.now());
      if (!call) return;
      for (const l of listeners) {
        try {
          l(call);
        } catch (err) {
          deps.log.error({ err, callId: call.pbxCallId }, 'held inbound call listener failed');
        }
      }
    },
    onHeldCall(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async accept(call) {
      await deps.rest.post('call/accept_inbound', { channel_id: call.channelId }, 'accepting a held inbound call');
    },
    async redirect(call, extension) {
      await deps.rest.post('call/transfer', { type: 'blind', channel_id: call.channelId, number: extension }, 'sending a held inbound call to an extension');
    },
    async extensionAvailability(extension): Promise<ExtensionAvailability> {
      const [live, directory] = await Promise.all([
        deps.rest.get('call/query', {}, 'reading the calls in progress'),
        deps.rest.get('extension/search', { search_value: extension }, 'reading the extension'),
      ]);
      const calls = Array.isArray(live.data) ? live.data.filter(isRecord) : [];
      const inCall = calls.some((c) => Array.isArray(c.members) && c.members.filter(isRecord).some((m) => {
        const ext = isRecord(m.extension) ? m.extension : undefined;
        return ext !== undefined && String(ext.number ?? '') === extension && ext.member_status !== 'BYE';
      }));
      if (inCall) return 'busy';
      const rows = Array.isArray(directory.data) ? directory.data.filter(isRecord) : [];
      const row = rows.find((r) => String(r.number ?? '') === extension);
      if (!row) return 'unknown';
      return row.presence_status === 'do_not_disturb' ? 'dnd' : 'available';
    },
  };
}
