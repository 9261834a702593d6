/**
 * The OAuth server (oauth.bitrix.info in the cloud): `/oauth/token/` by GET (documented) or form POST (what
 * the SDK sends), `grant_type=refresh_token`. Checks the app's client_id/client_secret, rotates the refresh
 * token, answers the documented shape. https://apidocs.bitrix24.com/settings/oauth/index.html,
 * error codes: https://apidocs.bitrix24.com/settings/oauth/error-codes.html
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { activeFault, faultLocation } from './faults.js';
import { readBody, sendJson, sendText } from './http-io.js';
import { parseQueryString, pickString } from './params.js';
import { clientEndpointOf, serverEndpointOf, type EmulatorState } from './state.js';
import { issueTokens } from './tokens.js';

function sameSecret(a: string, b: string): boolean {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}

export async function handleOAuthToken(state: EmulatorState, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const body = req.method === 'POST' ? (await readBody(req)).params : {};
  const params = { ...parseQueryString(url.search.slice(1)), ...body };
  const grantType = pickString(params, 'grant_type');
  const clientId = pickString(params, 'client_id') ?? '';
  const clientSecret = pickString(params, 'client_secret') ?? '';
  const refreshToken = pickString(params, 'refresh_token') ?? '';

  const stored = state.refreshTokens.get(refreshToken);
  const portal = stored ? state.portals.get(stored.memberId) : undefined;
  const fault = activeFault(state, portal ?? null);
  if (fault === 'network_down') {
    req.socket.destroy();
    return;
  }
  if (fault === 'oauth_redirect') {
    // A hostile OAuth answer: a client following it would re-send client_secret and the refresh token there.
    res.writeHead(302, { Location: `${faultLocation(state, portal ?? null)}/oauth/token/`, 'Content-Type': 'text/html' });
    res.end('<html><body>Found</body></html>');
    return;
  }
  if (fault === 'http503') {
    sendText(res, 503, '<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>', 'text/html');
    return;
  }
  if (grantType !== 'refresh_token') {
    sendJson(res, 400, { error: 'invalid_request', error_description: 'Unsupported grant_type' });
    return;
  }
  if (!sameSecret(clientId, state.config.clientId) || !sameSecret(clientSecret, state.config.clientSecret)) {
    sendJson(res, 401, { error: 'invalid_client', error_description: 'Invalid client credentials' });
    return;
  }
  // A refresh token is good only with the credentials of the app it was issued to.
  if (!stored || !portal || !portal.appPresent || fault === 'invalid_grant' || (stored.clientId !== undefined && stored.clientId !== clientId)) {
    sendJson(res, 400, { error: 'invalid_grant', error_description: 'Invalid grant' });
    return;
  }
  // Rotation: the used refresh token is single-use.
  state.refreshTokens.delete(refreshToken);
  const issued = issueTokens(state, portal, stored.userId, stored.kind, stored.clientId);
  state.refreshCount.set(portal.memberId, (state.refreshCount.get(portal.memberId) ?? 0) + 1);
  sendJson(res, 200, {
    access_token: issued.accessToken,
    expires: issued.expires,
    expires_in: issued.expiresIn,
    scope: state.config.appScopes.join(','),
    domain: new URL(state.oauthBaseUrl).host,
    server_endpoint: serverEndpointOf(state),
    status: 'L',
    client_endpoint: clientEndpointOf(portal),
    member_id: portal.memberId,
    user_id: issued.userId,
    refresh_token: issued.refreshToken,
  });
}
