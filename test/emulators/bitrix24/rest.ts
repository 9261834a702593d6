/**
 * The REST entry point `<client_endpoint><method>[.json]`: authentication (OAuth `auth` param or
 * inbound-webhook path), faults, the leaky bucket, dispatch, the `{result, time}` envelope, recording.
 * https://apidocs.bitrix24.com/settings/how-to-call-rest-api/general-principles.html
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseBatchCommands, phpMap, substituteReferences, type SubOutcome } from './batch.js';
import {
  RestError,
  expiredToken,
  methodNotFound,
  noAuthFound,
  operationTimeLimit,
  queryLimitExceeded,
  wrongAuthType,
} from './errors.js';
import { activeFault, faultDelayMs, faultLocation } from './faults.js';
import { readBody, sendJson, sendText, type ParsedBody } from './http-io.js';
import type { AuthContext, MethodContext, MethodOutcome, MethodTable } from './methods/types.js';
import { parseQueryString, pickString, type Params } from './params.js';
import { recordRequest } from './record.js';
import { checkScope } from './scopes.js';
import type { EmulatorState, Portal } from './state.js';
import { timeInfo } from './time-envelope.js';

interface Target {
  method: string;
  webhook: { userId: number; code: string } | null;
}

/** `/rest/<method>`, `/rest//<method>` (the SDK joins base and method with a slash), `/rest/<user>/<code>/<method>`. */
export function parseRestPath(pathname: string): Target | null {
  const m = /^\/rest\/+(.*)$/.exec(pathname);
  if (!m) return null;
  const rest = decodeURIComponent(m[1] ?? '');
  const hook = /^(\d+)\/([^/]+)\/+(.+)$/.exec(rest);
  const strip = (s: string): string => s.replace(/\.json$/i, '');
  if (hook) return { method: strip(hook[3] ?? ''), webhook: { userId: Number(hook[1]), code: hook[2] ?? '' } };
  if (rest.includes('/')) return null;
  return { method: strip(rest), webhook: null };
}

interface Authenticated {
  portal: Portal;
  auth: AuthContext;
  accessToken: string | null;
}

function authenticate(state: EmulatorState, target: Target, params: Params, hostPortal: Portal | null): Authenticated {
  if (target.webhook) {
    if (!hostPortal) throw noAuthFound();
    const hook = hostPortal.webhooks.get(target.webhook.code);
    const user = hostPortal.users.get(target.webhook.userId);
    if (!hook || hook.userId !== target.webhook.userId || !user || !user.ACTIVE) throw noAuthFound();
    return { portal: hostPortal, auth: { kind: 'webhook', userId: hook.userId, webhookCode: hook.code }, accessToken: null };
  }
  const token = pickString(params, 'auth', 'access_token');
  if (!token) throw noAuthFound();
  const access = state.accessTokens.get(token);
  if (!access) throw noAuthFound();
  const portal = state.portals.get(access.memberId);
  if (!portal || (hostPortal && hostPortal !== portal)) throw noAuthFound();
  if (access.expiresAt <= Date.now()) throw expiredToken();
  // A deactivated (dismissed) user cannot be authorized any more: their tokens stop working on every method, as the
  // webhook path above already refuses a webhook of an inactive user. The error Bitrix24 answers then is the one the
  // PHP SDK reports for users it cannot authorize, `authorization_error` "Unable to authorize user in call [...]"
  // (mesilov/bitrix24-php-sdk issue #215); that deactivation yields exactly this code is UNCONFIRMED in the docs.
  const user = portal.users.get(access.userId);
  if (!user || !user.ACTIVE) {
    throw new RestError('authorization_error', `Unable to authorize user in call [${target.method}] for domain [${portal.domain}]`, 401);
  }
  return { portal, auth: { kind: access.kind, userId: access.userId }, accessToken: token };
}

function withoutTransportParams(params: Params): Params {
  const out: Params = {};
  for (const [k, v] of Object.entries(params)) {
    if (k === 'auth' || k.startsWith('bx24_')) continue;
    out[k] = v;
  }
  return out;
}

export class RestDispatcher {
  constructor(
    private readonly state: EmulatorState,
    private readonly methods: MethodTable,
  ) {}

  async runMethod(
    method: string,
    portal: Portal,
    auth: AuthContext,
    params: Params,
    viaBatch: boolean,
    accessToken: string | null,
  ): Promise<MethodOutcome> {
    const spec = this.methods[method.toLowerCase()];
    if (!spec) throw methodNotFound();
    if (spec.appContextOnly && auth.kind === 'webhook') throw wrongAuthType();
    const hook = auth.webhookCode ? portal.webhooks.get(auth.webhookCode) : undefined;
    const scopes = hook ? hook.scopes : this.state.config.appScopes;
    checkScope(method, scopes);
    const ctx: MethodContext = { state: this.state, portal, auth, params, viaBatch, accessToken, scopes };
    return spec.run(ctx);
  }

  private async runBatch(a: Authenticated, params: Params): Promise<MethodOutcome> {
    const { commands, halt, asList } = parseBatchCommands(params);
    const results: Record<string, unknown> = {};
    const errors: Record<string, unknown> = {};
    const totals: Record<string, unknown> = {};
    const nexts: Record<string, unknown> = {};
    const times: Record<string, unknown> = {};
    for (const command of commands) {
      const started = Date.now();
      const subParams = withoutTransportParams(substituteReferences(command.params, results));
      let outcome: SubOutcome;
      try {
        if (command.method.toLowerCase() === 'batch') {
          throw new RestError('ERROR_BATCH_METHOD_NOT_ALLOWED', 'Method is not allowed for batch usage', 400);
        }
        const r = await this.runMethod(command.method, a.portal, a.auth, subParams, true, a.accessToken);
        const { operating: _o, operating_reset_at: _r, ...time } = timeInfo(started);
        outcome = { ok: true, result: r.result, total: r.total, next: r.next, time };
      } catch (err) {
        const e = err instanceof RestError ? err : new RestError('INTERNAL_SERVER_ERROR', String(err), 500);
        const { operating: _o, operating_reset_at: _r, ...time } = timeInfo(started);
        outcome = { ok: false, error: { ...e.toBody(), error: e.code, error_description: e.description }, time };
        recordRequest(this.state, {
          memberId: a.portal.memberId, method: command.method, params: subParams, httpStatus: e.status,
          error: e.code, errorDescription: e.description, time: new Date(started).toISOString(), viaBatch: true,
          authKind: a.auth.kind, userId: a.auth.userId,
        });
      }
      if (outcome.ok) {
        recordRequest(this.state, {
          memberId: a.portal.memberId, method: command.method, params: subParams, httpStatus: 200, error: null,
          errorDescription: null, time: new Date(started).toISOString(), viaBatch: true, authKind: a.auth.kind,
          userId: a.auth.userId,
        });
        results[command.key] = outcome.result;
        if (outcome.total !== undefined) totals[command.key] = outcome.total;
        if (outcome.next !== undefined) nexts[command.key] = outcome.next;
        times[command.key] = outcome.time;
      } else {
        errors[command.key] = outcome.error;
        if (halt) break;
      }
    }
    return {
      result: {
        result: phpMap(results, asList),
        result_error: phpMap(errors, asList),
        result_total: phpMap(totals, asList),
        result_next: phpMap(nexts, asList),
        result_time: phpMap(times, asList),
      },
    };
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL, hostPortal: Portal | null): Promise<void> {
    const started = Date.now();
    const target = parseRestPath(url.pathname);
    if (!target) {
      sendJson(res, 404, { error: 'ERROR_METHOD_NOT_FOUND', error_description: 'Method not found!' });
      return;
    }
    let body: ParsedBody;
    try {
      body = await readBody(req);
    } catch {
      sendJson(res, 400, { error: 'INVALID_REQUEST', error_description: 'Could not parse the request body' });
      return;
    }
    const all: Params = { ...parseQueryString(url.search.slice(1)), ...body.params };
    const params = withoutTransportParams(all);
    let authed: Authenticated | null = null;
    try {
      const pre = activeFault(this.state, hostPortal);
      if (pre === 'network_down') {
        req.socket.destroy();
        return;
      }
      if (pre === 'redirect') {
        // Not something Bitrix24 does: a hostile portal moving the app's REST calls (and their auth) elsewhere.
        res.writeHead(307, { Location: `${faultLocation(this.state, hostPortal)}${url.pathname}`, 'Content-Type': 'text/html' });
        res.end('<html><body>Temporary Redirect</body></html>');
        this.record(null, target.method, params, 307, 'REDIRECT', 'redirect fault', started, hostPortal);
        return;
      }
      // A loaded Bitrix24 answers late whatever it answers: a refused token too, so a 401 can arrive after the
      // app already refreshed its tokens for another request.
      const slowBeforeAuth = pre === 'slow';
      if (slowBeforeAuth) await new Promise((resolve) => setTimeout(resolve, faultDelayMs(this.state, hostPortal)));
      authed = authenticate(this.state, target, all, hostPortal);
      const fault = activeFault(this.state, authed.portal);
      if (fault === 'network_down') {
        req.socket.destroy();
        return;
      }
      if (fault === 'http503') {
        // A proxy-level outage: not a REST envelope.
        sendText(res, 503, '<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>', 'text/html');
        this.record(authed, target.method, params, 503, 'HTTP_503', 'Service Temporarily Unavailable', started);
        return;
      }
      if (fault === 'slow' && !slowBeforeAuth) await new Promise((resolve) => setTimeout(resolve, faultDelayMs(this.state, authed?.portal ?? null)));
      if (fault === 'query_limit') throw queryLimitExceeded();
      if (fault === 'operation_time_limit') throw operationTimeLimit();
      if (fault === 'expire_all_tokens' && authed.auth.kind !== 'webhook') throw expiredToken();
      if (this.state.config.rateLimit && !authed.portal.bucket.take()) throw queryLimitExceeded();
      const outcome =
        target.method.toLowerCase() === 'batch'
          ? await this.runBatch(authed, params)
          : await this.runMethod(target.method, authed.portal, authed.auth, params, false, authed.accessToken);
      const envelope: Record<string, unknown> = { result: outcome.result };
      if (outcome.next !== undefined) envelope.next = outcome.next;
      if (outcome.total !== undefined) envelope.total = outcome.total;
      envelope.time = timeInfo(started);
      this.record(authed, target.method, params, 200, null, null, started);
      sendJson(res, 200, envelope);
    } catch (err) {
      const e = err instanceof RestError ? err : new RestError('INTERNAL_SERVER_ERROR', String(err), 500);
      this.record(authed, target.method, params, e.status, e.code, e.description, started, hostPortal);
      sendJson(res, e.status, e.toBody());
    }
  }

  private record(
    authed: Authenticated | null,
    method: string,
    params: Params,
    status: number,
    error: string | null,
    description: string | null,
    started: number,
    hostPortal: Portal | null = null,
  ): void {
    recordRequest(this.state, {
      memberId: authed?.portal.memberId ?? hostPortal?.memberId ?? null,
      method,
      params,
      httpStatus: status,
      error,
      errorDescription: description,
      time: new Date(started).toISOString(),
      viaBatch: false,
      authKind: authed?.auth.kind ?? 'none',
      userId: authed?.auth.userId ?? null,
    });
  }
}
