/**
 * Preloaded (`node --import`) into each product instance of the fault test, never into the product itself: it tells
 * who sent what, which the emulators alone cannot, since every instance calls the same portal and PBX URLs.
 * - Every outbound HTTP request (Bitrix24 REST, token refresh, recording upload, PBX REST and the PBX WebSocket
 *   upgrade; they all go through an http.Agent) gets ` fault-instance/<id>` appended to its User-Agent, which the
 *   Yeastar emulator records per request.
 * - Each request is appended, at the moment it is handed to the agent (before any byte leaves), to a JSON-lines
 *   journal: time, method, scheme://host/path. The query is dropped: the PBX's access token travels there.
 * Env: FAULT_TEST_INSTANCE (the tag), FAULT_TEST_JOURNAL (the file). Without both it does nothing.
 */
import { appendFileSync } from 'node:fs';
import http, { type ClientRequest } from 'node:http';

const instance = process.env.FAULT_TEST_INSTANCE;
const journal = process.env.FAULT_TEST_JOURNAL;

type AddRequest = (this: http.Agent, req: ClientRequest, options: unknown) => void;

if (instance !== undefined && journal !== undefined) {
  const original = Reflect.get(http.Agent.prototype, 'addRequest') as AddRequest;
  const tagged: AddRequest = function addRequest(this: http.Agent, req, options) {
    try {
      if (!req.headersSent) {
        const ua = req.getHeader('user-agent');
        req.setHeader('user-agent', `${typeof ua === 'string' && ua !== '' ? `${ua} ` : ''}fault-instance/${instance}`);
      }
    } catch {
      // Headers already serialised (an array of raw headers): the journal below still names the sender.
    }
    const path = req.path.split('?')[0] ?? '';
    const hostHeader = req.getHeader('host');
    const host = typeof hostHeader === 'string' ? hostHeader : req.host;
    appendFileSync(journal, `${JSON.stringify({ at: Date.now(), method: req.method, url: `${req.protocol}//${host}${path}` })}\n`);
    original.call(this, req, options);
  };
  Reflect.set(http.Agent.prototype, 'addRequest', tagged);
}
