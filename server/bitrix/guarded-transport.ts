import { isAxiosError, type AxiosInstance, type AxiosResponse } from 'axios';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { createAddressGuard, type AddressPolicy } from '../net/address-policy.js';
import { createGuardedAgents, type GuardedAgents } from '../net/guarded-http.js';
import { BitrixError } from './types.js';

/**
 * Transport rules for every request to Bitrix24 (REST through the SDK, the token refresh on the OAuth server, the
 * recording upload), whose addresses come from a portal (its client_endpoint, an upload URL it answered):
 * - every connection obeys the address policy with the operator's B24_ALLOW_LOOPBACK / B24_ALLOW_PRIVATE switches,
 *   IP literals included (net/guarded-http.ts);
 * - no redirect is followed: a 3xx answer is an error. A redirect would re-send the request, and with it the auth
 *   (the `auth` parameter in the body for REST, client_secret + refresh_token for the refresh) to wherever the
 *   portal points; a portal has no business moving our REST calls to another address.
 */

export interface BitrixTransport {
  agents: GuardedAgents;
  policy: AddressPolicy;
  /** axios request options: the guarded agents, redirects off. */
  axiosOptions: { httpAgent: GuardedAgents['http']; httpsAgent: GuardedAgents['https']; maxRedirects: 0 };
  /** Applies the rules to an axios instance (the SDK's HttpV2 ajaxClient). */
  guardAxios(instance: AxiosInstance, memberId: string): void;
  /** The error (and the log line) for a redirect answer; `what` names the request, e.g. "REST call". */
  redirectRefused(memberId: string, what: string, status: number, location: unknown): BitrixError;
}

const bitrixGuard = createAddressGuard({
  subject: 'the Bitrix24 address',
  example: 'https://example.bitrix24.com/rest/',
  loopbackHint: 'set B24_ALLOW_LOOPBACK=1 to allow it',
  privateHint: 'set B24_ALLOW_PRIVATE=1 if the Bitrix24 server is on your LAN',
  hostName: 'the Bitrix24 host name',
  // Status 0 with the transport failures: the outbox retries, then parks the item with this reason.
  refused: (reason) => new BitrixError('B24_ADDRESS_REFUSED', `connection refused by the address policy: ${reason}`, 0, true),
  unreachable: (reason) => new BitrixError('NETWORK_ERROR', reason, 0, true),
});

/** Only the origin of a Location header: enough for an operator, and no path or query (they may carry a token). */
function originOf(location: unknown): string {
  if (typeof location !== 'string' || location === '') return 'no Location';
  try {
    return new URL(location).origin;
  } catch {
    return 'a relative or invalid Location';
  }
}

const isRedirect = (res: AxiosResponse | undefined): res is AxiosResponse => res !== undefined && res.status >= 300 && res.status < 400;

export function createBitrixTransport(config: Pick<Config, 'b24AllowLoopback' | 'b24AllowPrivate'>, log: Logger): BitrixTransport {
  const policy: AddressPolicy = { allowLoopback: config.b24AllowLoopback, allowPrivate: config.b24AllowPrivate };
  const agents = createGuardedAgents(bitrixGuard, policy, { keepAlive: true });

  function redirectRefused(memberId: string, what: string, status: number, location: unknown): BitrixError {
    const target = originOf(location);
    log.warn({ portal: memberId, status, location: target }, `Bitrix24 redirect refused: the ${what} answered HTTP ${status}`);
    return new BitrixError(
      'REDIRECT_REFUSED',
      `the ${what} answered HTTP ${status}, a redirect to ${target}; redirects are not followed, so nothing was sent there`,
      0, true,
    );
  }

  return {
    agents,
    policy,
    axiosOptions: { httpAgent: agents.http, httpsAgent: agents.https, maxRedirects: 0 },
    redirectRefused,
    guardAxios(instance, memberId) {
      // The SDK creates its axios instance itself (core/http/abstract-http.ts: axios.create({...options})) and
      // B24OAuth passes no options to it; `ajaxClient` is its public handle, so the defaults are set there.
      instance.defaults.httpAgent = agents.http;
      instance.defaults.httpsAgent = agents.https;
      instance.defaults.maxRedirects = 0;
      instance.interceptors.response.use(undefined, (err: unknown) => {
        // With maxRedirects 0 a 3xx is not followed; axios rejects it (validateStatus wants 2xx) and it becomes ours.
        if (isAxiosError(err) && isRedirect(err.response)) {
          throw redirectRefused(memberId, 'Bitrix24 REST call', err.response.status, err.response.headers.location);
        }
        throw err;
      });
    },
  };
}
