import { newCallState, step, type CallState, type MachineContext } from '../../server/calls/machine.js';
import type { CallEvent } from '../../server/pbx/adapter.js';
import { parseEventFrame } from '../../server/pbx/yeastar/frames.js';
import { createCallNormalizer } from '../../server/pbx/yeastar/normalize.js';
import { startYeastarEmulator, type ScenarioName } from '../../test/emulators/yeastar/harness.js';
import { info, type ResultRow } from '../lib/stats.js';

/**
 * Events: PBX frames as they come off the WebSocket (text) → frame parser → normalizer → call state machine, on the
 * bench's own thread (one core), no I/O. The frames are the emulator's own event sequences for a mix of scenarios,
 * each replayed under fresh call ids.
 */
const MIX: { name: ScenarioName; to: string | string[] }[] = [
  { name: 'inbound-answered', to: '1001' },
  { name: 'inbound-missed', to: '1001' },
  { name: 'inbound-busy', to: '1002' },
  { name: 'ring-group', to: ['1001', '1002', '1003'] },
  { name: 'queue-ivr', to: ['1001', '1002'] },
  { name: 'blind-transfer', to: ['1001', '1002'] },
];

interface CallTemplate {
  callId: string;
  frames: { type: number; msg: string }[];
}

async function captureTemplates(): Promise<CallTemplate[]> {
  const pbx = await startYeastarEmulator({ speed: 1000 });
  try {
    const templates: CallTemplate[] = [];
    for (const s of MIX) {
      const { callId } = await pbx.scenario(s.name, { from: '+15550123456', to: s.to, talkSeconds: 30, record: true, wait: true });
      const events = await pbx.events({ callId });
      templates.push({ callId, frames: events.map((e) => ({ type: e.type, msg: JSON.stringify(e.msg) })) });
    }
    return templates;
  } finally {
    await pbx.stop();
  }
}

export async function measureEvents(log: (line: string) => void, durationMs = 3000): Promise<ResultRow[]> {
  const templates = await captureTemplates();
  const extensions = new Set(['1001', '1002', '1003', '1004']);
  const states = new Map<string, CallState>();
  const ctx: MachineContext = { userFor: (ext) => (extensions.has(ext) ? Number(ext) : undefined), unboundCallsUserId: null, cdrWaitMs: 30_000 };
  let normalized = 0;
  let intents = 0;
  const onEvent = (event: CallEvent): void => {
    normalized += 1;
    const t = step(states.get(event.pbxCallId) ?? newCallState(event), { kind: 'event', event }, ctx);
    intents += t.intents.length;
    if (t.state.phase === 'logged' || t.state.phase === 'ignored') states.delete(event.pbxCallId);
    else states.set(event.pbxCallId, t.state);
  };
  const normalizer = createCallNormalizer({ portal: 'bench', settleMs: 60_000, emit: onEvent, isExtension: (n) => extensions.has(n) });
  let frames = 0;
  let calls = 0;
  const started = performance.now();
  try {
    while (performance.now() - started < durationMs) {
      for (const t of templates) {
        const fresh = `${t.callId}.${calls}`;
        for (const f of t.frames) {
          // The wire form: msg is a JSON string inside the envelope (reference §events).
          const wire = `{"type":${f.type},"sn":"3633D2199067","msg":${JSON.stringify(f.msg.split(t.callId).join(fresh))}}`;
          const parsed = parseEventFrame(wire);
          if (parsed.ok) normalizer.accept(parsed.frame);
          frames += 1;
        }
        calls += 1;
      }
      // The CDR legs settle on a timer in production; folding them here keeps the loop synchronous.
      normalizer.flush();
    }
  } finally {
    normalizer.close();
  }
  const seconds = (performance.now() - started) / 1000;
  log(`events: ${frames} frames, ${normalized} normalized events, ${intents} intents, ${calls} calls in ${seconds.toFixed(2)} s`);
  return [
    info('events (1 core, in-process)', 'normalized PBX events per second', Math.round(normalized / seconds), 'ev/s',
      `${Math.round(frames / seconds)} raw frames/s, ${Math.round(calls / seconds)} calls/s (parse → normalize → state machine)`),
  ];
}
