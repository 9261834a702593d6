import { createAddressGuard, type AddressPolicy } from '../net/address-policy.js';
import { createGuardedAgents, type GuardedAgents } from '../net/guarded-http.js';
import { PbxError } from './adapter.js';

/**
 * SSRF guard for the PBX address an admin types in: the shared rules of net/address-policy.ts in the PBX's words
 * (PBX_ADDRESS_REFUSED / PBX_UNREACHABLE, the PBX_ALLOW_LOOPBACK / PBX_ALLOW_PRIVATE switches).
 */
export type { AddressPolicy } from '../net/address-policy.js';

const pbxGuard = createAddressGuard({
  subject: 'the PBX address',
  example: 'https://pbx.example.com:8088',
  loopbackHint: 'set PBX_ALLOW_LOOPBACK=1 to allow it',
  privateHint: 'set PBX_ALLOW_PRIVATE=1 if the PBX is on your LAN',
  hostName: 'the PBX host name',
  refused: (reason) => new PbxError('PBX_ADDRESS_REFUSED', reason),
  unreachable: (reason) => new PbxError('PBX_UNREACHABLE', reason),
});

export const checkAddress = pbxGuard.checkAddress;
/** Validates the PBX base URL and every address its host resolves to; returns the parsed URL. */
export const assertPbxAddressAllowed = pbxGuard.assertUrlAllowed;
/** Connect-time check for sockets to the PBX (DNS rebinding). */
export const guardedLookup = pbxGuard.guardedLookup;
/**
 * How long an idle kept-alive connection to the PBX is kept (ms): below the 5 s that Apache's and Node's servers close idle
 * connections after, so a request is not written onto a socket the PBX is closing at that moment.
 */
export const PBX_IDLE_SOCKET_MS = 4_000;

/**
 * HTTP agents for every connection to the PBX (REST, recordings, WebSocket): the policy at connect time, IP literals too.
 * Connections are kept alive: every inbound call the PBX holds is answered with a REST request (accept or redirect,
 * pbx/yeastar/inbound-control.ts) while the caller hears silence, and opening a TCP (and TLS) connection for each one
 * was the largest part of that request's CPU (profiled in issue 14). Idle sockets close after
 * PBX_IDLE_SOCKET_MS; a WebSocket leaves the pool at its upgrade (ws clears the socket timeout).
 */
export const pbxAgents = (policy: AddressPolicy): GuardedAgents =>
  createGuardedAgents(pbxGuard, policy, { keepAlive: true, timeout: PBX_IDLE_SOCKET_MS });
