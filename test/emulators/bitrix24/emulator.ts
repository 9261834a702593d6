/**
 * The emulated Bitrix24 cloud: one OAuth/control listener plus one loopback listener per portal (each
 * real portal has its own host), and the operations tests drive through the control API.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { detectAudio } from './audio.js';
import type { BindingsView, CallView, CrmActivityView, EventDelivery, LoggedDelivery, Fault, FrameToken, InstallResult, PortalInfo, RecordedRequest } from './control-types.js';
import { setCrmReadRights, type CrmReadRights } from './crm-rights.js';
import { createEntity, getEntity, legacyView, updateEntity } from './crm-store.js';
import { postForm } from './delivery.js';
import { EventSender, type SendEventOptions } from './event-sender.js';
import { RestError } from './errors.js';
import { setFault } from './faults.js';
import { DEFAULT_APP_SCOPES } from './scopes.js';
import { sendJson, sendText } from './http-io.js';
import { addActivity } from './methods/activities.js';
import { tasksOf, type EmulatedTask } from './methods/tasks.js';
import { allMethods } from './methods/index.js';
import { receiveRecordUpload } from './record-upload.js';
import { handleOAuthToken } from './oauth.js';
import { handleOAuthAppInfo, isOAuthAppInfoPath } from './oauth-app-info.js';
import { LeakyBucket } from './rate-limit.js';
import { RestDispatcher } from './rest.js';
import {
  CRM_ENTITY_TYPES,
  clientEndpointOf,
  createState,
  serverEndpointOf,
  type CallRecord,
  type CrmEntityType,
  type EmulatorConfig,
  type EmulatorState,
  type Plan,
  type Portal,
  type User,
} from './state.js';
import { bindingFor, newCallId } from './telephony.js';
import { expireAccessTokens, issueTokens, randomHex, revokePortalTokens } from './tokens.js';

export type { SendEventOptions };

export const DEFAULT_CLIENT_ID = 'local.emulator0000000001.00000001';
export const DEFAULT_CLIENT_SECRET = 'emulator-client-secret-0000000000000000000000000000';

export interface UserInput {
  name: string;
  lastName?: string;
  email?: string;
  admin?: boolean;
  innerPhone?: string;
  active?: boolean;
  workPhone?: string;
  mobile?: string;
  /** CRM read rights per object type (crm-rights.ts); absent: reads everything. */
  crmRead?: CrmReadRights;
}

export interface ClickToCallInput {
  userId: number;
  phoneNumber: string;
  lineNumber?: string;
  crm?: { entityType: CrmEntityType; entityId: number };
  callListId?: number;
  isMobile?: boolean;
}

export interface CallbackInput {
  phoneNumber: string;
  text?: string;
  voice?: string;
  lineNumber?: string;
  crm?: { entityType: CrmEntityType; entityId: number };
}


function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

export interface IssuedSecrets {
  tokens: string[];
  applicationTokens: string[];
  webhookCodes: string[];
  clientSecret: string;
}

export class Bitrix24Cloud {
  readonly state: EmulatorState;
  private readonly dispatcher: RestDispatcher;
  private readonly events: EventSender;
  private mainServer: Server | null = null;

  constructor(config: Partial<EmulatorConfig> = {}) {
    this.state = createState({
      clientId: config.clientId ?? DEFAULT_CLIENT_ID,
      clientSecret: config.clientSecret ?? DEFAULT_CLIENT_SECRET,
      accessTokenTtlSec: config.accessTokenTtlSec ?? 3600,
      rateLimit: config.rateLimit ?? true,
      drainRate: config.drainRate ?? null,
      burst: config.burst ?? null,
      deliveryTimeoutMs: config.deliveryTimeoutMs ?? 10_000,
      appScopes: config.appScopes ?? [...DEFAULT_APP_SCOPES],
    });
    this.dispatcher = new RestDispatcher(this.state, allMethods());
    this.events = new EventSender(this.state);
    this.state.emitEvent = (memberId, event, data) => this.events.emitLater(memberId, event, data);
  }

  async start(port = 0): Promise<string> {
    const server = createServer((req, res) => void this.onMainRequest(req, res));
    const bound = await listen(server, port);
    this.mainServer = server;
    this.state.oauthBaseUrl = `http://127.0.0.1:${bound}`;
    return this.state.oauthBaseUrl;
  }

  async stop(): Promise<void> {
    const servers = [this.mainServer, ...[...this.state.portals.values()].map((p) => p.server)];
    await Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (!s) return resolve();
            s.closeAllConnections();
            s.close(() => resolve());
          }),
      ),
    );
  }

  /** Control API handler, set by control.ts. */
  controlHandler: ((req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>) | null = null;

  private async onMainRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.state.oauthBaseUrl);
    try {
      if (url.pathname.startsWith('/_emulator/') && this.controlHandler) return await this.controlHandler(req, res, url);
      if (url.pathname === '/oauth/token/' || url.pathname === '/oauth/token') return await handleOAuthToken(this.state, req, res, url);
      // The OAuth server's own app.info (the trusted view of an install), not the portal method of the same name.
      if (isOAuthAppInfoPath(url.pathname)) return await handleOAuthAppInfo(this.state, req, res, url);
      if (url.pathname.startsWith('/rest/')) return await this.dispatcher.handle(req, res, url, null);
      sendText(res, 404, 'Not found');
    } catch (err) {
      if (!res.headersSent) sendJson(res, 500, { error: 'INTERNAL_SERVER_ERROR', error_description: String(err) });
    }
  }

  private async onPortalRequest(portal: Portal, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${portal.domain}`);
    try {
      if (/^\/rest\/+upload\.json$/.test(url.pathname)) return await receiveRecordUpload(this.state, portal, req, res, url);
      if (url.pathname.startsWith('/rest/')) return await this.dispatcher.handle(req, res, url, portal);
      sendText(res, 404, 'Not found');
    } catch (err) {
      if (!res.headersSent) sendJson(res, 500, { error: 'INTERNAL_SERVER_ERROR', error_description: String(err) });
    }
  }

  // region portals and users

  portal(memberId: string): Portal {
    const portal = this.state.portals.get(memberId);
    if (!portal) throw new RestError('EMULATOR_NO_PORTAL', `No portal ${memberId}`, 404);
    return portal;
  }

  info(portal: Portal): PortalInfo {
    return {
      memberId: portal.memberId,
      domain: portal.domain,
      clientEndpoint: clientEndpointOf(portal),
      serverEndpoint: serverEndpointOf(this.state),
      applicationToken: portal.applicationToken,
      plan: portal.plan,
    };
  }

  /**
   * `host` (alias `domain`, port ignored) must reach this machine: 127.0.0.1 or localhost. The port is always
   * the portal's own, so the product builds `http://<domain>/rest/` exactly as for a real portal.
   */
  async createPortal(opts: { memberId?: string; host?: string; domain?: string; plan?: Plan; region?: string; langId?: string } = {}): Promise<PortalInfo> {
    const host = (opts.host ?? opts.domain ?? '127.0.0.1').replace(/:\d+$/, '');
    if (!['127.0.0.1', 'localhost'].includes(host)) {
      throw new RestError('EMULATOR_BAD_HOST', `Portal host must be 127.0.0.1 or localhost (loopback only), got ${host}`, 400);
    }
    const memberId = opts.memberId ?? randomHex(16);
    if (this.state.portals.has(memberId)) throw new RestError('EMULATOR_PORTAL_EXISTS', `Portal ${memberId} exists`, 409);
    const plan = opts.plan ?? 'standard';
    const burst = this.state.config.burst ?? (plan === 'enterprise' ? 250 : 50);
    const drain = this.state.config.drainRate ?? (plan === 'enterprise' ? 5 : 2);
    const portal: Portal = {
      memberId, domain: '', port: 0, server: null, plan, applicationToken: randomHex(16), appPresent: false,
      installed: false, langId: opts.langId ?? 'en', region: opts.region ?? 'en', users: new Map(), nextUserId: 1, crm: new Map(CRM_ENTITY_TYPES.map((t) => [t, new Map()])),
      nextCrmId: { LEAD: 1, CONTACT: 1, COMPANY: 1, DEAL: 1 }, nextMultiId: 1, activities: new Map(), nextActivityId: 1,
      comments: [], lines: new Map(), nextLineId: 1, calls: new Map(), nextStatisticId: 1, events: [], nextEventId: 1,
      placements: [], webhooks: new Map(), notifications: [], files: new Map(), nextFileId: 1, uploads: new Map(),
      bucket: new LeakyBucket(burst, drain), fault: null, faultUntil: null,
    };
    const server = createServer((req, res) => void this.onPortalRequest(portal, req, res));
    portal.port = await listen(server, 0);
    portal.server = server;
    portal.domain = `${host}:${portal.port}`;
    this.state.portals.set(memberId, portal);
    // Every portal has its administrator (the account owner), user 1.
    this.addUser(memberId, { name: 'Portal', lastName: 'Admin', email: 'admin@example.test', admin: true });
    return this.info(portal);
  }

  addUser(memberId: string, input: UserInput): { id: number } {
    const portal = this.portal(memberId);
    const inner = input.innerPhone ?? '';
    if (inner !== '' && [...portal.users.values()].some((u) => u.UF_PHONE_INNER === inner)) {
      throw new RestError('EMULATOR_DUPLICATE_EXTENSION', `Extension ${inner} is taken`, 409);
    }
    const user: User = {
      ID: portal.nextUserId++,
      NAME: input.name,
      LAST_NAME: input.lastName ?? '',
      EMAIL: input.email ?? '',
      ACTIVE: input.active ?? true,
      ADMIN: input.admin ?? false,
      UF_PHONE_INNER: inner,
      WORK_PHONE: input.workPhone ?? '',
      PERSONAL_MOBILE: input.mobile ?? '',
    };
    portal.users.set(user.ID, user);
    if (input.crmRead) setCrmReadRights(portal, user.ID, input.crmRead);
    return { id: user.ID };
  }

  updateUser(memberId: string, userId: number, patch: Partial<UserInput>): void {
    const user = this.portal(memberId).users.get(userId);
    if (!user) throw new RestError('EMULATOR_NO_USER', `No user ${userId}`, 404);
    if (patch.name !== undefined) user.NAME = patch.name;
    if (patch.lastName !== undefined) user.LAST_NAME = patch.lastName;
    if (patch.email !== undefined) user.EMAIL = patch.email;
    if (patch.admin !== undefined) user.ADMIN = patch.admin;
    if (patch.innerPhone !== undefined) user.UF_PHONE_INNER = patch.innerPhone;
    if (patch.active !== undefined) user.ACTIVE = patch.active;
    if (patch.workPhone !== undefined) user.WORK_PHONE = patch.workPhone;
    if (patch.mobile !== undefined) user.PERSONAL_MOBILE = patch.mobile;
    if (patch.crmRead !== undefined) setCrmReadRights(this.portal(memberId), userId, patch.crmRead);
  }

  /**
   * The tokens a user's app frame gets (AUTH_ID / REFRESH_ID): application tokens of that user. `clientId`: the frame
   * of ANOTHER application installed on the portal (its tokens work on the portal's REST like ours).
   */
  frameToken(memberId: string, userId: number, opts: { clientId?: string } = {}): FrameToken {
    const portal = this.portal(memberId);
    const user = portal.users.get(userId);
    if (!user || !user.ACTIVE) throw new RestError('EMULATOR_NO_USER', `No active user ${userId}`, 404);
    if (!portal.appPresent) throw new RestError('EMULATOR_NOT_INSTALLED', 'The app is not installed on this portal', 409);
    const t = issueTokens(this.state, portal, userId, 'frame', opts.clientId);
    return { accessToken: t.accessToken, refreshToken: t.refreshToken, expiresIn: t.expiresIn, userId };
  }

  /** An inbound webhook `<portal>/rest/<userId>/<code>/`. https://apidocs.bitrix24.com/local-integrations/local-webhooks.html */
  createWebhook(memberId: string, userId: number, scopes: string[] = ['crm', 'telephony', 'user', 'im']): { url: string; code: string } {
    const portal = this.portal(memberId);
    if (!portal.users.has(userId)) throw new RestError('EMULATOR_NO_USER', `No user ${userId}`, 404);
    const code = randomHex(8);
    portal.webhooks.set(code, { code, userId, scopes });
    return { url: `http://${portal.domain}/rest/${userId}/${code}/`, code };
  }

  // endregion

  // region install / events

  private adminOf(portal: Portal): User {
    const admin = [...portal.users.values()].find((u) => u.ADMIN && u.ACTIVE);
    if (!admin) throw new RestError('EMULATOR_NO_ADMIN', 'The portal has no active administrator', 409);
    return admin;
  }

  async install(
    memberId: string,
    opts: { appUrl: string; lang?: string; installHandler?: string | null; installerUrl?: string },
  ): Promise<InstallResult> {
    const portal = this.portal(memberId);
    const admin = this.adminOf(portal);
    const lang = opts.lang ?? 'en';
    const appUrl = opts.appUrl.replace(/\/+$/, '');
    portal.langId = lang;
    portal.appPresent = true;
    portal.installed = false;
    const handler = opts.installHandler === undefined ? `${appUrl}/b24/events` : opts.installHandler;
    let installEvent: EventDelivery | null = null;
    if (handler !== null) {
      const auth = this.events.eventAuth(portal, { userId: admin.ID, withRefresh: true, withServerEndpoint: true });
      installEvent = await this.events.deliver(handler, 'ONAPPINSTALL', { VERSION: '1', ACTIVE: 'Y', INSTALLED: 'Y', LANGUAGE_ID: lang }, auth, null);
    }
    // The installer page gets the frame data of the DEFAULT placement plus the app's token and scopes.
    const { page, url } = await this.postFrameData(portal, admin.ID, opts.installerUrl ?? `${appUrl}/install`, lang, 'DEFAULT', {}, [
      ['APPLICATION_TOKEN', portal.applicationToken],
      ['APPLICATION_SCOPE', this.state.config.appScopes.join(',')],
    ]);
    return {
      installerPage: { status: page.status ?? 0, body: page.error ?? page.body, url },
      installEvent,
      adminUserId: admin.ID,
    };
  }

  /**
   * A user opens a widget: Bitrix24 POSTs the frame data to the placement's handler (query DOMAIN, PROTOCOL, LANG,
   * APP_SID; body AUTH_ID, AUTH_EXPIRES, REFRESH_ID, SERVER_ENDPOINT, member_id, status, PLACEMENT, PLACEMENT_OPTIONS
   * as a JSON string). Widgets exist only after installFinish. https://apidocs.bitrix24.com/settings/oauth/simple-way.html,
   * https://apidocs.bitrix24.com/api-reference/widgets/_includes/widget_data.html
   */
  async openPlacement(
    memberId: string,
    input: { userId: number; placement: string; options?: Record<string, unknown>; lang?: string },
  ): Promise<{ status: number; body: string; url: string; accessToken: string }> {
    const portal = this.portal(memberId);
    if (!portal.installed) throw new RestError('EMULATOR_NOT_INSTALLED', 'Widgets are shown only after installFinish', 409);
    const placement = input.placement.toUpperCase();
    const binding = portal.placements.find((p) => p.placement === placement && (p.userId === 0 || p.userId === input.userId));
    if (!binding) throw new RestError('EMULATOR_NO_PLACEMENT', `No handler bound for ${placement}`, 404);
    const user = portal.users.get(input.userId);
    if (!user || !user.ACTIVE) throw new RestError('EMULATOR_NO_USER', `No active user ${input.userId}`, 404);
    const { page, url, accessToken } = await this.postFrameData(portal, user.ID, binding.handler, input.lang ?? portal.langId, placement, input.options ?? {});
    return { status: page.status ?? 0, body: page.error ?? page.body, url, accessToken };
  }

  /**
   * What Bitrix24 sends a page it opens in the app's frame: query DOMAIN, PROTOCOL, LANG, APP_SID; body the user's fresh
   * frame tokens, SERVER_ENDPOINT, member_id, status, PLACEMENT and PLACEMENT_OPTIONS (a JSON string), then `extra`.
   */
  private async postFrameData(
    portal: Portal, userId: number, handler: string, lang: string, placement: string, options: Record<string, unknown>, extra: [string, string][] = [],
  ): Promise<{ page: EventDelivery; url: string; accessToken: string }> {
    const url = new URL(handler);
    url.searchParams.set('DOMAIN', portal.domain);
    url.searchParams.set('PROTOCOL', '0');
    url.searchParams.set('LANG', lang);
    url.searchParams.set('APP_SID', randomHex(16));
    const t = issueTokens(this.state, portal, userId, 'frame');
    const page = await postForm(
      url.toString(),
      [
        ['AUTH_ID', t.accessToken],
        ['AUTH_EXPIRES', String(t.expiresIn)],
        ['REFRESH_ID', t.refreshToken],
        ['SERVER_ENDPOINT', serverEndpointOf(this.state)],
        ['member_id', portal.memberId],
        ['status', 'L'],
        ['PLACEMENT', placement],
        ['PLACEMENT_OPTIONS', JSON.stringify(options)],
        ...extra,
      ],
      this.state.config.deliveryTimeoutMs,
    );
    return { page, url: url.toString(), accessToken: t.accessToken };
  }

  /** What BX24.installFinish() / $b24.installFinish() does: from now on events are delivered. */
  finishInstall(memberId: string): void {
    const portal = this.portal(memberId);
    if (!portal.appPresent) throw new RestError('EMULATOR_NOT_INSTALLED', 'The app is not installed on this portal', 409);
    portal.installed = true;
  }

  /**
   * Delivers an event to every handler bound for it (or to `toHandler`). Nothing is delivered before
   * installFinish except ONAPPINSTALL/ONAPPUNINSTALL. https://apidocs.bitrix24.com/settings/app-installation/installation-finish.html
   */
  sendEvent(memberId: string, event: string, data: unknown, opts: SendEventOptions = {}): Promise<EventDelivery[]> {
    return this.events.sendEvent(this.portal(memberId), event, data, opts);
  }

  deliveries(filter: { memberId?: string; event?: string } = {}): LoggedDelivery[] {
    return this.events.deliveries(filter);
  }

  settle(): Promise<void> {
    return this.events.settle();
  }

  /**
   * A user clicks a number in CRM with the app as the outgoing line: Bitrix24 registers the call itself
   * (no EXTERNAL_CALL_ID) and sends ONEXTERNALCALLSTART with its CALL_ID.
   * https://apidocs.bitrix24.com/api-reference/telephony/events/on-external-call-start.html
   */
  async clickToCall(memberId: string, input: ClickToCallInput): Promise<{ callId: string; deliveries: EventDelivery[] }> {
    const portal = this.portal(memberId);
    const user = portal.users.get(input.userId);
    if (!user || !user.ACTIVE) throw new RestError('EMULATOR_NO_USER', `No active user ${input.userId}`, 404);
    const binding = input.crm ? { type: input.crm.entityType, id: input.crm.entityId } : bindingFor(portal, input.phoneNumber);
    const lineNumber = input.lineNumber ?? [...portal.lines.keys()][0] ?? '';
    const call: CallRecord = {
      callId: newCallId(), userId: user.ID, phoneNumber: input.phoneNumber, type: 1, lineNumber, externalCallId: null,
      registeredAt: Date.now(), startDate: new Date().toISOString(), crmEntityType: binding?.type ?? '', crmEntityId: binding?.id ?? null,
      crmCreatedEntities: [], origin: 'click_to_call', registerParams: {}, shownTo: [user.ID],
      showHistory: [{ action: 'show', userIds: [user.ID], at: Date.now() }], finished: null, records: [],
    };
    portal.calls.set(call.callId, call);
    const data: Record<string, string> = {
      PHONE_NUMBER: input.phoneNumber,
      PHONE_NUMBER_INTERNATIONAL: input.phoneNumber,
      EXTENSION: '',
      USER_ID: String(user.ID),
      CALL_LIST_ID: String(input.callListId ?? 0),
      LINE_NUMBER: lineNumber,
      IS_MOBILE: input.isMobile ? '1' : '0',
      CALL_ID: call.callId,
    };
    if (binding) {
      data.CRM_ENTITY_TYPE = binding.type;
      data.CRM_ENTITY_ID = String(binding.id);
    }
    const deliveries = await this.sendEvent(memberId, 'ONEXTERNALCALLSTART', data, { asUserId: user.ID });
    return { callId: call.callId, deliveries };
  }

  /** A CRM callback form was filled: ONEXTERNALCALLBACKSTART, no CALL_ID. …/events/on-external-call-back-start.html */
  async callbackRequest(memberId: string, input: CallbackInput): Promise<EventDelivery[]> {
    const portal = this.portal(memberId);
    const binding = input.crm ? { type: input.crm.entityType, id: input.crm.entityId } : bindingFor(portal, input.phoneNumber);
    const data: Record<string, string> = {
      PHONE_NUMBER: input.phoneNumber,
      TEXT: input.text ?? '',
      VOICE: input.voice ?? '',
      LINE_NUMBER: input.lineNumber ?? [...portal.lines.keys()][0] ?? '',
    };
    if (binding) {
      data.CRM_ENTITY_TYPE = binding.type;
      data.CRM_ENTITY_ID = String(binding.id);
    }
    return this.sendEvent(memberId, 'ONEXTERNALCALLBACKSTART', data);
  }

  /**
   * Uninstall: access is revoked first, handlers and placements removed, then ONAPPUNINSTALL (no tokens)
   * goes to the handlers that were bound for it. https://apidocs.bitrix24.com/api-reference/common/events/on-app-uninstall.html
   */
  async uninstall(memberId: string, opts: { clean: boolean }): Promise<EventDelivery[]> {
    const portal = this.portal(memberId);
    const targets = portal.events.filter((b) => b.event === 'ONAPPUNINSTALL');
    revokePortalTokens(this.state, memberId);
    portal.events = [];
    portal.placements = [];
    portal.appPresent = false;
    portal.installed = false;
    const auth = this.events.eventAuth(portal, {});
    // A later install is a new installation with a new application token.
    portal.applicationToken = randomHex(16);
    const data = { LANGUAGE_ID: portal.langId, CLEAN: opts.clean ? 1 : 0 };
    return Promise.all(targets.map((b) => this.events.deliver(b.handler, 'ONAPPUNINSTALL', data, auth, b.id)));
  }

  // endregion

  // region CRM seeding and inspection

  seedCrm(memberId: string, entityType: CrmEntityType, fields: Record<string, unknown>): number {
    const portal = this.portal(memberId);
    const id = createEntity(portal, entityType, fields, this.adminOf(portal).ID).id;
    this.events.emitLater(memberId, `ONCRM${entityType}ADD`, { FIELDS: { ID: String(id) } });
    return id;
  }

  /** An activity as crm.activity.add makes it (same checks), by the portal's admin unless RESPONSIBLE_ID says otherwise. */
  seedActivity(memberId: string, fields: Record<string, unknown>): number {
    const portal = this.portal(memberId);
    return addActivity(portal, fields, this.adminOf(portal).ID);
  }

  getCrm(memberId: string, entityType: CrmEntityType, id: number): Record<string, unknown> | null {
    const entity = getEntity(this.portal(memberId), entityType, id);
    return entity ? legacyView(entity) : null;
  }

  listCrm(memberId: string, entityType: CrmEntityType): Record<string, unknown>[] {
    return [...(this.portal(memberId).crm.get(entityType)?.values() ?? [])].map((e) => legacyView(e));
  }

  updateCrm(memberId: string, entityType: CrmEntityType, id: number, fields: Record<string, unknown>): void {
    const portal = this.portal(memberId);
    const entity = getEntity(portal, entityType, id);
    if (!entity) throw new RestError('EMULATOR_NO_ENTITY', `No ${entityType} ${id}`, 404);
    updateEntity(portal, entity, fields);
    this.events.emitLater(memberId, `ONCRM${entityType}UPDATE`, { FIELDS: { ID: String(id) } });
  }

  /** As crm.<type>.delete does it (methods/crm.ts): gone, then ONCRM<TYPE>DELETE to the bound handlers. */
  deleteCrm(memberId: string, entityType: CrmEntityType, id: number): void {
    const portal = this.portal(memberId);
    if (!getEntity(portal, entityType, id)) throw new RestError('EMULATOR_NO_ENTITY', `No ${entityType} ${id}`, 404);
    portal.crm.get(entityType)?.delete(id);
    this.events.emitLater(memberId, `ONCRM${entityType}DELETE`, { FIELDS: { ID: String(id) } });
  }

  // endregion

  // region inspection

  requests(filter: { memberId?: string; method?: string } = {}): RecordedRequest[] {
    return this.state.requests.filter(
      (r) =>
        (filter.memberId === undefined || r.memberId === filter.memberId) &&
        (filter.method === undefined || r.method.toLowerCase() === filter.method.toLowerCase()),
    );
  }

  clearRequests(): void {
    this.state.requests = [];
  }

  calls(memberId: string): CallView[] {
    const portal = this.portal(memberId);
    return [...portal.calls.values()].map((c) => ({
      ...c,
      records: c.records.map((r) => ({ ...r, valid: detectAudio(portal.files.get(r.fileId)?.bytes ?? Buffer.alloc(0)) !== null })),
    }));
  }

  recordFile(memberId: string, fileId: number): { name: string; kind: string; base64: string } | null {
    const file = this.portal(memberId).files.get(fileId);
    return file ? { name: file.name, kind: file.kind, base64: file.bytes.toString('base64') } : null;
  }

  bindings(memberId: string): BindingsView {
    const portal = this.portal(memberId);
    return {
      appPresent: portal.appPresent,
      installed: portal.installed,
      events: portal.events,
      placements: portal.placements,
      lines: [...portal.lines.values()],
    };
  }

  crmActivity(memberId: string): CrmActivityView {
    const portal = this.portal(memberId);
    return { activities: [...portal.activities.values()], comments: portal.comments, notifications: portal.notifications };
  }

  tasks(memberId: string): EmulatedTask[] {
    return tasksOf(this.portal(memberId));
  }

  setFault(memberId: string, fault: Fault | null): void {
    setFault(this.state, memberId === '*' ? null : this.portal(memberId), fault);
  }

  expireAccessTokens(memberId: string): number {
    this.portal(memberId);
    return expireAccessTokens(this.state, memberId);
  }

  refreshCount(memberId: string): number {
    return this.state.refreshCount.get(memberId) ?? 0;
  }

  /** Every secret handed out so far, so a test can prove none of them reached a log line or an API answer. */
  issuedSecrets(): IssuedSecrets {
    const portals = [...this.state.portals.values()];
    return {
      tokens: [...this.state.issuedTokens],
      applicationTokens: portals.map((p) => p.applicationToken),
      webhookCodes: portals.flatMap((p) => [...p.webhooks.values()].map((w) => w.code)),
      clientSecret: this.state.config.clientSecret,
    };
  }

  configure(patch: Partial<EmulatorConfig>): EmulatorConfig {
    const defined = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
    Object.assign(this.state.config, defined);
    if (patch.burst !== undefined || patch.drainRate !== undefined) {
      for (const p of this.state.portals.values()) {
        if (patch.burst !== undefined && patch.burst !== null) p.bucket.burst = patch.burst;
        if (patch.drainRate !== undefined && patch.drainRate !== null) p.bucket.drainRate = patch.drainRate;
      }
    }
    const { clientSecret: _secret, ...visible } = this.state.config;
    return { ...visible, clientSecret: '[redacted]' };
  }

  resetRateLimit(memberId: string): void {
    this.portal(memberId).bucket.reset();
  }

  // endregion
}

