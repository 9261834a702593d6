import express, { type NextFunction, type Request, type Response } from 'express';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import type { Outbox } from '../outbox/types.js';
import type { TelephonyEventHandlers } from '../calls/types.js';
import type { CrmChangeEvents } from '../contacts/types.js';
import type { PortalBitrixClients } from '../bitrix/client.js';
import type { PbxStatusLookup } from '../portals/status.js';
import { AppError, notFound } from '../errors.js';
import { requestLog } from './middleware/request-log.js';
import { errorHandler } from './middleware/errors.js';
import { securityHeaders } from './middleware/security-headers.js';
import { createFrameAuth, requireAdmin, type FrameAuthTuning } from './middleware/frame-auth.js';
import { eventsRouter } from './events.js';
import { installRouter } from './install.js';
import { installTrustFrom } from '../portals/install-trust.js';
import { placementsRouter } from './placements.js';
import { landingRouter } from './landing.js';
import { healthRouter, type RuntimeGauges } from './health.js';
import { statusRouter } from './api/status.js';
import { outboxRouter } from './api/outbox.js';
import { clientFiles } from './client-files.js';

export interface AppDeps {
  config: Config;
  log: Logger;
  store: Store;
  outbox: Outbox;
  clients: PortalBitrixClients;
  /** calls/: click-to-call and CRM callback events. */
  telephonyEvents: TelephonyEventHandlers;
  /** contacts/: Bitrix24 CRM change events for contact sync. */
  crmEvents?: CrmChangeEvents;
  /** pbx/ supervisor: the link state of a portal's PBX. */
  pbxStatus: PbxStatusLookup;
  /** pbx/ supervisor: close the portal's PBX link (uninstall). */
  onPortalRemoved: (memberId: string) => Promise<void> | void;
  /** pbx/ supervisor: a (re-)install finished (reopen a link an uninstall closed). */
  onPortalInstalled?: (memberId: string) => Promise<void> | void;
  /** Mounted under /api after frame auth (+ admin check for mutating requests). */
  apiRouters?: express.Router[];
  /**
   * Mounted under /api after frame auth but BEFORE the admin check: writes any employee may make because they are
   * sent to Bitrix24 with the employee's own frame token, so Bitrix24's rights decide (the call card's "Create contact").
   * Nothing of the app's own settings may be changed here.
   */
  agentApiRouters?: express.Router[];
  /** Mounted at the root before the client pages, WITHOUT any body parser (the PBX webhook needs the raw body). */
  rootRouters?: express.Router[];
  gauges?: RuntimeGauges;
  /** dist/client by default. */
  clientDir?: string;
  frameAuthTtlMs?: number;
  /** Frame-auth TTLs, limits and clock (tests); production defaults in frame-auth.ts FRAME_AUTH_DEFAULTS. */
  frameAuth?: FrameAuthTuning;
  now?: () => number;
  /** Background work started after an early 200 (events): tests await it. */
  track?: (work: Promise<unknown>) => void;
}

/**
 * The Express app. Body parsers are mounted per route, never globally: the PBX webhook router needs the raw body
 * to check its signature.
 */
export function createApp(deps: AppDeps): express.Application {
  const app = express();
  const now = deps.now ?? Date.now;
  const startedAt = now();
  let httpErrors = 0;
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.use(requestLog(deps.log));
  app.use(securityHeaders({ portals: () => deps.store.portals.list(), extraAncestors: deps.config.frameAncestors }));
  app.use((_req: Request, res: Response, next: NextFunction) => {
    res.on('finish', () => { if (res.statusCode >= 500) httpErrors += 1; });
    next();
  });

  const files = clientFiles(deps.clientDir ?? new URL('../../dist/client', import.meta.url).pathname);
  const frame = createFrameAuth({ store: deps.store, clients: deps.clients, now, ttlMs: deps.frameAuthTtlMs, ...deps.frameAuth });
  const install = {
    store: deps.store, clients: deps.clients, publicUrl: deps.config.publicUrl, log: deps.log, now, trust: installTrustFrom(deps.config),
    forgetFrameAuth: (memberId: string) => frame.forgetPortal(memberId),
    onInstalled: async (memberId: string) => {
      // Call logs held while the portal needed a re-install go out now, not at the outbox's next periodic recheck.
      deps.outbox.resume?.(memberId);
      await deps.onPortalInstalled?.(memberId);
    },
  };
  const uninstall = { store: deps.store, clients: deps.clients, log: deps.log, onPortalRemoved: deps.onPortalRemoved, now };

  app.use(healthRouter({
    store: deps.store,
    outbox: deps.outbox,
    restRequests: () => deps.clients.requestCount(),
    restErrors: () => deps.clients.errorCount(),
    gauges: deps.gauges ?? { callsInFlight: () => 0, pbxLinksUp: () => 0 },
    httpErrors: () => httpErrors,
    ...(deps.config.metricsToken !== undefined ? { metricsToken: deps.config.metricsToken } : {}),
    startedAt,
    now,
  }));
  app.use(eventsRouter({
    store: deps.store, telephonyEvents: deps.telephonyEvents, install, uninstall,
    ...(deps.crmEvents ? { crmEvents: deps.crmEvents } : {}),
    defaultServerEndpoint: deps.config.b24OAuthServer, log: deps.log, track: deps.track,
  }));
  app.use(installRouter({ install, files, defaultServerEndpoint: deps.config.b24OAuthServer }));
  for (const router of deps.rootRouters ?? []) app.use(router);

  const api = express.Router();
  // /api speaks JSON only: a body of another type would otherwise reach the routes as "no body" and pass for an
  // empty update (a PUT /api/settings with form data answered 200; found by test/integration/abuse).
  api.use((req: Request, _res: Response, next: NextFunction) => {
    if (req.method !== 'GET' && req.method !== 'HEAD' && hasBody(req) && !req.is('application/json')) {
      throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'the API accepts JSON bodies only (Content-Type: application/json)', 415);
    }
    next();
  });
  // No body parser here: each route parses its own body with its own limit (e.g. 4 kB for POST /phonebooks). A parser
  // here would read every body first, up to its own limit, and the route's smaller one would never apply.
  api.use(frame.middleware);
  for (const router of deps.agentApiRouters ?? []) api.use(router);
  api.use(requireAdmin);
  api.use(statusRouter({ store: deps.store, outbox: deps.outbox, pbxStatus: deps.pbxStatus }));
  api.use(outboxRouter({ outbox: deps.outbox }));
  for (const router of deps.apiRouters ?? []) api.use(router);
  api.use((_req: Request, _res: Response) => { throw notFound('no such API endpoint'); });
  app.use('/api', api);

  app.use(landingRouter({ publicUrl: deps.config.publicUrl }));
  app.use(placementsRouter(files));
  app.use((_req: Request, _res: Response) => { throw notFound('not found'); });
  app.use(errorHandler());
  return app;
}

/** A request carries a body when it says so (Content-Length > 0 or chunked). */
function hasBody(req: Request): boolean {
  return req.get('transfer-encoding') !== undefined || Number(req.get('content-length') ?? 0) > 0;
}
