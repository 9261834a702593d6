/**
 * The control API tests use (`POST /_emulator/<operation>`, JSON in and out). Not part of Bitrix24:
 * it lives on the OAuth/control listener, never on a portal's host.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Bitrix24Cloud } from './emulator.js';
import { CRM_READ_LEVELS } from './crm-rights.js';
import { RestError } from './errors.js';
import { readBody, sendJson } from './http-io.js';

const entityType = z.enum(['CONTACT', 'LEAD', 'COMPANY', 'DEAL']);
// A call binds to a contact, company or lead (telephony.externalCall.register CRM_ENTITY_TYPE), never to a deal.
const crmRef = z.object({ entityType: z.enum(['CONTACT', 'LEAD', 'COMPANY']), entityId: z.number().int() });
const fault = z
  .object({
    kind: z.enum(['http503', 'query_limit', 'operation_time_limit', 'expire_all_tokens', 'invalid_grant', 'network_down', 'redirect', 'oauth_redirect', 'slow']),
    forMs: z.number().int().positive().optional(),
    location: z.string().optional(),
    delayMs: z.number().int().positive().optional(),
  })
  .nullable();
const userInput = z.object({
  name: z.string(),
  lastName: z.string().optional(),
  email: z.string().optional(),
  admin: z.boolean().optional(),
  innerPhone: z.string().optional(),
  active: z.boolean().optional(),
  workPhone: z.string().optional(),
  mobile: z.string().optional(),
  crmRead: z.partialRecord(entityType, z.enum(CRM_READ_LEVELS)).optional(),
});
const fields = z.record(z.string(), z.unknown());

type Operation = (cloud: Bitrix24Cloud, body: unknown) => unknown;

const operations: Record<string, Operation> = {
  createPortal: (c, b) =>
    c.createPortal(z.object({ memberId: z.string().optional(), host: z.string().optional(), domain: z.string().optional(), plan: z.enum(['standard', 'enterprise']).optional(), region: z.string().regex(/^[a-z]{2}$/).optional(), langId: z.string().regex(/^[a-z]{2}$/).optional() }).parse(b ?? {})),
  addUser: (c, b) => {
    const a = z.object({ memberId: z.string(), user: userInput }).parse(b);
    return c.addUser(a.memberId, a.user);
  },
  updateUser: (c, b) => {
    const a = z.object({ memberId: z.string(), userId: z.number().int(), patch: userInput.partial() }).parse(b);
    c.updateUser(a.memberId, a.userId, a.patch);
    return { ok: true };
  },
  frameToken: (c, b) => {
    const a = z.object({ memberId: z.string(), userId: z.number().int(), clientId: z.string().min(1).optional() }).parse(b);
    return c.frameToken(a.memberId, a.userId, a.clientId === undefined ? {} : { clientId: a.clientId });
  },
  createWebhook: (c, b) => {
    const a = z.object({ memberId: z.string(), userId: z.number().int(), scopes: z.array(z.string()).optional() }).parse(b);
    return c.createWebhook(a.memberId, a.userId, a.scopes);
  },
  install: (c, b) => {
    const a = z
      .object({
        memberId: z.string(),
        appUrl: z.string().url(),
        lang: z.string().optional(),
        installHandler: z.string().url().nullable().optional(),
        installerUrl: z.string().url().optional(),
      })
      .parse(b);
    return c.install(a.memberId, a);
  },
  openPlacement: (c, b) => {
    const a = z
      .object({ memberId: z.string(), userId: z.number().int(), placement: z.string(), options: fields.optional(), lang: z.string().optional() })
      .parse(b);
    return c.openPlacement(a.memberId, a);
  },
  finishInstall: (c, b) => {
    c.finishInstall(z.object({ memberId: z.string() }).parse(b).memberId);
    return { ok: true };
  },
  sendEvent: (c, b) => {
    const a = z
      .object({
        memberId: z.string(),
        event: z.string(),
        data: z.unknown(),
        forgeToken: z.boolean().optional(),
        toHandler: z.string().url().optional(),
        asUserId: z.number().int().optional(),
      })
      .parse(b);
    return c.sendEvent(a.memberId, a.event, a.data ?? {}, a);
  },
  clickToCall: (c, b) => {
    const a = z
      .object({
        memberId: z.string(),
        userId: z.number().int(),
        phoneNumber: z.string(),
        lineNumber: z.string().optional(),
        crm: crmRef.optional(),
        callListId: z.number().int().optional(),
        isMobile: z.boolean().optional(),
      })
      .parse(b);
    return c.clickToCall(a.memberId, a);
  },
  callbackRequest: (c, b) => {
    const a = z
      .object({
        memberId: z.string(),
        phoneNumber: z.string(),
        text: z.string().optional(),
        voice: z.string().optional(),
        lineNumber: z.string().optional(),
        crm: crmRef.optional(),
      })
      .parse(b);
    return c.callbackRequest(a.memberId, a);
  },
  uninstall: (c, b) => {
    const a = z.object({ memberId: z.string(), clean: z.boolean() }).parse(b);
    return c.uninstall(a.memberId, a);
  },
  seedCrm: (c, b) => {
    const a = z.object({ memberId: z.string(), entityType, fields }).parse(b);
    return { id: c.seedCrm(a.memberId, a.entityType, a.fields) };
  },
  seedActivity: (c, b) => {
    const a = z.object({ memberId: z.string(), fields }).parse(b);
    return { id: c.seedActivity(a.memberId, a.fields) };
  },
  getCrm: (c, b) => {
    const a = z.object({ memberId: z.string(), entityType, id: z.number().int() }).parse(b);
    return { entity: c.getCrm(a.memberId, a.entityType, a.id) };
  },
  listCrm: (c, b) => {
    const a = z.object({ memberId: z.string(), entityType }).parse(b);
    return c.listCrm(a.memberId, a.entityType);
  },
  updateCrm: (c, b) => {
    const a = z.object({ memberId: z.string(), entityType, id: z.number().int(), fields }).parse(b);
    c.updateCrm(a.memberId, a.entityType, a.id, a.fields);
    return { ok: true };
  },
  deleteCrm: (c, b) => {
    const a = z.object({ memberId: z.string(), entityType, id: z.number().int() }).parse(b);
    c.deleteCrm(a.memberId, a.entityType, a.id);
    return { ok: true };
  },
  requests: (c, b) => c.requests(z.object({ memberId: z.string().optional(), method: z.string().optional() }).parse(b ?? {})),
  clearRequests: (c) => {
    c.clearRequests();
    return { ok: true };
  },
  calls: (c, b) => c.calls(z.object({ memberId: z.string() }).parse(b).memberId),
  recordFile: (c, b) => {
    const a = z.object({ memberId: z.string(), fileId: z.number().int() }).parse(b);
    return { file: c.recordFile(a.memberId, a.fileId) };
  },
  bindings: (c, b) => c.bindings(z.object({ memberId: z.string() }).parse(b).memberId),
  crmActivity: (c, b) => c.crmActivity(z.object({ memberId: z.string() }).parse(b).memberId),
  tasks: (c, b) => c.tasks(z.object({ memberId: z.string() }).parse(b).memberId),
  setFault: (c, b) => {
    const a = z.object({ memberId: z.string(), fault }).parse(b);
    c.setFault(a.memberId, a.fault);
    return { ok: true };
  },
  expireAccessTokens: (c, b) => ({ expired: c.expireAccessTokens(z.object({ memberId: z.string() }).parse(b).memberId) }),
  /** Every secret the emulator handed out (tokens, application tokens, webhook codes, the app's client secret): leak scans. */
  issuedSecrets: (c) => c.issuedSecrets(),
  refreshCount: (c, b) => ({ count: c.refreshCount(z.object({ memberId: z.string() }).parse(b).memberId) }),
  configure: (c, b) =>
    c.configure(
      z
        .object({
          clientId: z.string().optional(),
          clientSecret: z.string().optional(),
          accessTokenTtlSec: z.number().positive().optional(),
          rateLimit: z.boolean().optional(),
          drainRate: z.number().positive().optional(),
          burst: z.number().int().positive().optional(),
          deliveryTimeoutMs: z.number().int().positive().optional(),
          appScopes: z.array(z.string()).optional(),
        })
        .parse(b ?? {}),
    ),
  deliveries: (c, b) => c.deliveries(z.object({ memberId: z.string().optional(), event: z.string().optional() }).parse(b ?? {})),
  settle: async (c) => {
    await c.settle();
    return { ok: true };
  },
  resetRateLimit: (c, b) => {
    c.resetRateLimit(z.object({ memberId: z.string() }).parse(b).memberId);
    return { ok: true };
  },
};

export function controlHandler(cloud: Bitrix24Cloud) {
  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const name = url.pathname.slice('/_emulator/'.length);
    const op = operations[name];
    if (!op || req.method !== 'POST') {
      sendJson(res, 404, { error: 'UNKNOWN_OPERATION', error_description: `No control operation ${name}` });
      return;
    }
    try {
      const body = await readBody(req);
      const result = await op(cloud, body.params);
      sendJson(res, 200, { result: result ?? null });
    } catch (err) {
      if (err instanceof z.ZodError) {
        sendJson(res, 400, { error: 'BAD_ARGUMENTS', error_description: err.message });
      } else if (err instanceof RestError) {
        sendJson(res, err.status, { error: err.code, error_description: err.description });
      } else {
        sendJson(res, 500, { error: 'EMULATOR_ERROR', error_description: err instanceof Error ? err.message : String(err) });
      }
    }
  };
}
