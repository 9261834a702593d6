import { errors, str, success, type RestAnswer, type RestContext } from './envelope.js';
import type { LoginOutcome, TokenStore } from './tokens.js';

/** get_token / refresh_token / del_token (reference §2). */

function answerFor(outcome: LoginOutcome): RestAnswer {
  if (outcome.ok) return success({ ...outcome.tokens });
  switch (outcome.reason) {
    case 'wrong_credentials':
      // Response Result page: errcode -1 FAILURE with the offending field named.
      return errors.failure([{ field: 'username or password', value: 'error' }]);
    case 'cap':
      return errors.maxLimitation();
    case 'blocked':
      return errors.ipForbidden();
    case 'invalid_refresh':
      // Code for a spent/expired refresh token is UNCONFIRMED; 10004 matches what clients see for dead tokens.
      return errors.tokenExpired();
  }
}

/** POST get_token {username: Client ID, password: Client Secret} (https://help.yeastar.com/en/p-series-software-edition/developer-guide/get-access-token.html). */
export function getToken(ctx: RestContext, tokens: TokenStore, forceWrongSecret: boolean): RestAnswer {
  const username = str(ctx.body.username);
  const password = str(ctx.body.password);
  const missing = [
    ...(username ? [] : [{ field: 'username', validation_type: 'required' }]),
    ...(password ? [] : [{ field: 'password', validation_type: 'required' }]),
  ];
  if (missing.length > 0 && !tokens.isBlocked(ctx.ip)) return errors.parameter(missing);
  return answerFor(tokens.login(ctx.ip, username, password, forceWrongSecret));
}

/** POST refresh_token {refresh_token} (https://help.yeastar.com/zh-cn/p-series-cloud-edition/developer-guide/refresh-access-token.html). */
export function refreshToken(ctx: RestContext, tokens: TokenStore): RestAnswer {
  const token = str(ctx.body.refresh_token);
  if (!token) return errors.parameter([{ field: 'refresh_token', validation_type: 'required' }]);
  return answerFor(tokens.refreshPair(ctx.ip, token));
}

/** GET del_token?access_token= (https://help.yeastar.com/en/p-series-cloud-edition/developer-guide/revoke-access-token.html). */
export function deleteToken(ctx: RestContext, tokens: TokenStore): RestAnswer {
  const token = ctx.query.get('access_token');
  if (!token || !tokens.revoke(token)) return errors.tokenExpired();
  return success();
}
