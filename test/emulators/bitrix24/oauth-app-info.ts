/**
 * app.info on the OAuth server (`<server_endpoint>app.info`, cloud: https://oauth.bitrix.info/rest/app.info): the
 * server answers for the token's own installation, which is how an app learns the trusted member_id, domain and
 * client endpoint of an install ("to obtain a trusted value, use oauth.bitrix.info/rest/app.info",
 * https://apidocs.bitrix24.com/settings/oauth/simple-way.html). Shape as the official Python SDK reads it
 * (bitrix24/b24pysdk, api/responses/bitrix_app_info_response.py):
 * `{result: {client_id, scope, expires, user_id, install: {installed, version, status, scope, domain, uri,
 * client_endpoint, member_id, member_type}}, time}`. Unknown token → 401 invalid_token, expired → 401 expired_token.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, sendJson } from './http-io.js';
import { parseQueryString, pickString } from './params.js';
import { clientEndpointOf, clientIdOf, type EmulatorState } from './state.js';
import { timeInfo } from './time-envelope.js';

/** `/rest/app.info`, with the optional `.json` suffix and trailing slash the SDKs use. */
export function isOAuthAppInfoPath(pathname: string): boolean {
  return /^\/rest\/+app\.info(\.json)?\/?$/i.test(pathname);
}

export async function handleOAuthAppInfo(state: EmulatorState, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const started = Date.now();
  const body = req.method === 'POST' ? (await readBody(req)).params : {};
  const params = { ...parseQueryString(url.search.slice(1)), ...body };
  const token = pickString(params, 'auth', 'access_token') ?? '';
  const access = state.accessTokens.get(token);
  const portal = access ? state.portals.get(access.memberId) : undefined;
  if (!access || !portal || !portal.appPresent) {
    sendJson(res, 401, { error: 'invalid_token', error_description: 'The access token provided is invalid.' });
    return;
  }
  if (access.expiresAt <= Date.now()) {
    sendJson(res, 401, { error: 'expired_token', error_description: 'The access token provided has expired.' });
    return;
  }
  sendJson(res, 200, {
    result: {
      client_id: clientIdOf(state, access),
      scope: state.config.appScopes.join(','),
      expires: new Date(access.expiresAt).toISOString(),
      user_id: access.userId,
      install: {
        installed: portal.installed,
        version: 1,
        status: 'L',
        scope: state.config.appScopes.join(','),
        domain: portal.domain,
        uri: `http://${portal.domain}`,
        client_endpoint: clientEndpointOf(portal),
        member_id: portal.memberId,
        // The value the SDK's own fixtures carry (tests/unit/examples.py); the product does not read it.
        member_type: 'user',
      },
    },
    time: timeInfo(started),
  });
}
