import http, { type ClientRequestArgs } from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AddressGuard, AddressPolicy } from './address-policy.js';

/**
 * HTTP agents whose every connection obeys an address policy (net/address-policy.ts), for all outbound traffic to
 * hosts a tenant chose: the PBX (REST, recordings, WebSocket) and Bitrix24 (REST through the SDK's axios, the token
 * refresh, the recording upload).
 *
 * Why both a `lookup` and a check in `createConnection`: a host name goes through `lookup`, so the guarded lookup
 * judges every address it resolves to at connect time (DNS rebinding). But Node does not call `lookup` for an IP
 * literal (`http://127.0.0.1:8080/`, or what `/\127.0.0.1:8080/` resolves to against a base URL): without the
 * second check an IP literal would reach any address.
 */

type ConnectCallback = (err: Error | null, stream: Duplex) => void;

export interface GuardedAgents {
  http: http.Agent;
  https: https.Agent;
  /** The agent for this URL's scheme. */
  agentFor(url: URL | string): http.Agent;
}

/** The IP literal a connection is about to be made to, if it is one (brackets of an IPv6 host dropped). */
function literalHost(options: ClientRequestArgs): string | undefined {
  const host = (options.host ?? options.hostname ?? '').replace(/^\[|\]$/g, '');
  return isIP(host) !== 0 ? host : undefined;
}

/**
 * Runs the policy on an IP literal before the socket is opened. A refusal is handed to the agent's callback, which
 * fails the request with it (Node's Agent.createSocket: an error passed to the callback becomes the request's error).
 */
function checkedConnection(
  guard: AddressGuard, policy: AddressPolicy, options: ClientRequestArgs, callback: ConnectCallback | undefined,
  connect: () => Duplex | null | undefined,
): Duplex | null | undefined {
  const literal = literalHost(options);
  const gate = policy.refuseConnect?.();
  if (gate !== undefined) {
    if (!callback) throw gate;
    callback(gate, undefined as unknown as Duplex);
    return undefined;
  }
  if (literal !== undefined) {
    try {
      guard.checkAddress(literal, policy);
    } catch (refusal) {
      const err = refusal instanceof Error ? refusal : new Error(String(refusal));
      if (!callback) throw err;
      callback(err, undefined as unknown as Duplex);
      return undefined;
    }
  }
  return connect();
}

export function createGuardedAgents(guard: AddressGuard, policy: AddressPolicy, options: http.AgentOptions = {}): GuardedAgents {
  const lookup = guard.guardedLookup(policy);

  class GuardedHttpAgent extends http.Agent {
    override createConnection(opts: ClientRequestArgs, callback?: ConnectCallback): Duplex | null | undefined {
      return checkedConnection(guard, policy, opts, callback, () => super.createConnection(opts, callback));
    }
  }

  class GuardedHttpsAgent extends https.Agent {
    override createConnection(opts: https.RequestOptions, callback?: ConnectCallback): Duplex | null | undefined {
      return checkedConnection(guard, policy, opts, callback, () => super.createConnection(opts, callback));
    }
  }

  const httpAgent = new GuardedHttpAgent({ ...options, lookup });
  const httpsAgent = new GuardedHttpsAgent({ ...options, lookup });
  return {
    http: httpAgent,
    https: httpsAgent,
    agentFor: (url) => (String(url).startsWith('https:') ? httpsAgent : httpAgent),
  };
}
