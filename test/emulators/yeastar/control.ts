import type { IncomingMessage, ServerResponse } from 'node:http';
import { isRecord, readRawBody, sendJson } from './envelope.js';
import { z } from 'zod';
import {
  burstSchema, dialBehaviorSchema, eventFormatSchema, extensionSchema, faultSchema, scenarioRequestSchema, scenariosRequestSchema, webhookSchema,
} from './control-schemas.js';
import { ScenarioError } from './scenarios.js';
import type { YeastarEmulatorServer } from './server.js';
import { SCENARIO_NAMES } from './types.js';
import { inboundControlOf } from './inbound-control.js';
import { DEFAULT_TRUNK } from './state.js';

/**
 * Test control API under /_emulator/ (JSON in, JSON out). Not a PBX endpoint: no token, no User-Agent rule.
 * Bad input answers HTTP 400 {error}, so a harness mistake is loud.
 */

class BadRequest extends Error {}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body ?? {});
  if (!result.success) throw new BadRequest(z.prettifyError(result.error));
  return result.data;
}

function asRecord(body: unknown): Record<string, unknown> {
  if (!isRecord(body)) throw new BadRequest('body must be a JSON object');
  return body;
}

export async function handleControl(emu: YeastarEmulatorServer, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  // The demo page (another origin on loopback) drives scenarios from the browser.
  res.setHeader('Access-Control-Allow-Origin', '*');
  if (req.method === 'OPTIONS') {
    res.writeHead(204, { 'Access-Control-Allow-Methods': 'GET, POST, DELETE', 'Access-Control-Allow-Headers': 'Content-Type' });
    res.end();
    return;
  }
  const raw = await readRawBody(req);
  let body: unknown = undefined;
  if (raw.length > 0) {
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      sendJson(res, { error: 'body is not JSON' }, 400);
      return;
    }
  }
  const route = `${req.method ?? 'GET'} ${url.pathname.slice('/_emulator'.length)}`;
  try {
    const result = await answer(emu, route, body, url.searchParams);
    if (result === undefined) sendJson(res, { error: `no control route ${route}` }, 404);
    else sendJson(res, result);
  } catch (err) {
    const status = err instanceof BadRequest || err instanceof ScenarioError ? 400 : 500;
    sendJson(res, { error: err instanceof Error ? err.message : String(err) }, status);
  }
}

async function answer(emu: YeastarEmulatorServer, route: string, body: unknown, query: URLSearchParams): Promise<unknown> {
  const { state, hub, board, tokens } = emu;
  switch (route) {
    case 'GET /health':
      return { ok: true, options: { ...state.options, clientSecret: '[redacted]' } };
    case 'GET /scenarios':
      return SCENARIO_NAMES;
    case 'GET /extensions':
      return state.extensions;
    case 'POST /extensions':
      return state.addExtension(parse(extensionSchema, body));
    case 'POST /extensions/remove': {
      const number = asRecord(body).number;
      const index = state.extensions.findIndex((e) => e.number === number);
      if (index >= 0) state.extensions.splice(index, 1);
      return { removed: index >= 0 };
    }
    case 'POST /scenario': {
      const { name, opts = {} } = parse(scenarioRequestSchema, body);
      const { callId, done } = board.start(name, opts);
      if (opts.wait) await done;
      return { callId };
    }
    case 'POST /scenarios': {
      // N calls ringing at once, started in this one turn: N control requests would reach the PBX spread over the
      // time the caller and this process take to handle them, and that handling competes for the CPU with what a
      // benchmark on the same machine measures (bench/phases/latency.ts).
      const { name, calls } = parse(scenariosRequestSchema, body);
      return { callIds: calls.map((opts) => board.start(name, opts).callId) };
    }
    case 'POST /burst':
      return board.burst(parse(burstSchema, body));
    case 'POST /continue':
      return { released: board.release(String(asRecord(body).callId)) };
    case 'POST /hangup': {
      const callId = isRecord(body) && typeof body.callId === 'string' ? body.callId : undefined;
      return { hungUp: board.hangUp(callId) };
    }
    case 'GET /calls':
      return { calls: board.query(), held: board.held() };
    case 'POST /idle':
      await board.idle();
      await hub.drain();
      return { ok: true };
    case 'POST /dial-behavior':
      return board.setDialBehavior(parse(dialBehaviorSchema, body));
    case 'POST /cut': {
      const forMs = Number(isRecord(body) ? body.forMs ?? 0 : 0);
      if (forMs > 0) emu.subscribe.refuseFor(forMs);
      return { cut: hub.cutAll() };
    }
    case 'POST /restore':
      emu.subscribe.restore();
      return { ok: true };
    case 'GET /sockets':
      return hub.sockets();
    case 'POST /webhook':
      hub.setWebhook(parse(webhookSchema, body));
      return { ok: true };
    case 'DELETE /webhook':
      hub.clearWebhooks();
      return { ok: true };
    case 'GET /webhook-deliveries':
      await hub.drain();
      return hub.webhookDeliveries();
    case 'GET /events': {
      const type = query.get('type');
      const callId = query.get('callId');
      return hub.events().filter((e) => (!type || e.type === Number(type)) && (!callId || e.callId === callId));
    }
    case 'DELETE /events':
      hub.clearEvents();
      return { ok: true };
    case 'POST /event-format':
      hub.setFormat(parse(eventFormatSchema, body));
      return { ok: true };
    case 'POST /emit': {
      // Pushes an arbitrary event (e.g. 30008, 30009, or a malformed one) to subscribers and webhooks.
      const b = asRecord(body);
      hub.emit(Number(b.type), isRecord(b.msg) ? b.msg : {});
      return { ok: true };
    }
    case 'POST /send-raw': {
      // Sends a raw text frame to every open socket, to test how a client survives garbage.
      const text = String(asRecord(body).text ?? '');
      let sent = 0;
      for (const sub of hub.subscribers) {
        sub.socket.send(text);
        sent += 1;
      }
      return { sent };
    }
    case 'GET /tokens':
      return tokens.snapshot();
    case 'GET /tokens/issued':
      return { tokens: tokens.issued() };
    case 'POST /tokens/expire-all':
      tokens.expireAll();
      return { ok: true };
    case 'POST /unblock':
      tokens.unblockAll();
      return { ok: true };
    case 'GET /requests':
      return emu.requestLog;
    case 'DELETE /requests':
      emu.requestLog.length = 0;
      return { ok: true };
    case 'POST /fault':
      emu.setFault(body === null || body === undefined ? null : parse(faultSchema, body));
      return { ok: true };
    case 'POST /clock': {
      const ms = Number(asRecord(body).advanceMs);
      if (!Number.isFinite(ms) || ms < 0) throw new BadRequest('advanceMs must be a non-negative number');
      state.advanceClock(ms);
      return { now: state.now() };
    }
    case 'GET /phonebooks':
      return state.phonebooks.map((pb) => ({ ...pb, contactIds: state.contactsInPhonebook(pb).map((c) => c.id) }));
    case 'GET /contacts':
      return state.contacts;
    case 'POST /contacts/remove': {
      // Someone deletes a company contact in the PBX web UI (a synced entry is only read-only for the CRM sync's
      // own phonebook while the integration is on; an admin or a disconnect can still remove it).
      const id = Number(asRecord(body).id);
      const index = state.contacts.findIndex((c) => c.id === id);
      if (index >= 0) state.contacts.splice(index, 1);
      return { removed: index >= 0 };
    }
    case 'GET /cdr':
      return state.cdr;
    case 'POST /inbound-control': {
      // Control Inbound Call on/off for a trunk (the PBX's Integrations > API > Trunk settings), and the hold window.
      const b = asRecord(body);
      const control = inboundControlOf(state);
      const trunk = String(b.trunk ?? DEFAULT_TRUNK);
      if (b.on === false) control.controlled.delete(trunk);
      else control.controlled.add(trunk);
      if (b.windowMs !== undefined) control.windowMs = Number(b.windowMs);
      return { ok: true };
    }
    case 'GET /inbound-decisions':
      return inboundControlOf(state).decisions;
    case 'GET /recordings':
      return state.recordings.map(({ path: _path, ...rest }) => rest);
    default:
      return undefined;
  }
}
