import { z } from 'zod';
import { defaultInstanceId } from './instance-id.js';

/**
 * Configuration is read once, here, from the environment; everything else receives the frozen object.
 * Every variable is optional: with nothing set the product runs locally on port 3000 with ./data.
 */
/** A CSP host-source: scheme, host (a leading `*.` wildcard allowed), optional port or `*`; nothing that ends a directive. */
const FRAME_SOURCE = /^https?:\/\/(?:\*\.)?[A-Za-z0-9.-]+(?::(?:\d{1,5}|\*))?$/;

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().default('0.0.0.0'),
  PUBLIC_URL: z.string().url().optional(),
  DATA_DIR: z.string().default('./data'),
  B24_CLIENT_ID: z.string().default(''),
  B24_CLIENT_SECRET: z.string().default(''),
  /** Encrypts secrets at rest; generated into DATA_DIR on first start when unset. */
  SECRET_KEY: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * The trusted Bitrix24 OAuth server (cloud: oauth.bitrix.info). A new install's tokens are checked here with
   * app.info, and token refreshes go here; never to a server an install request names itself.
   */
  B24_OAUTH_SERVER: z.string().url().default('https://oauth.bitrix.info/rest/'),
  /** Rate-limit profile for new portals: standard (2 req/s, burst 50) or enterprise (5/250). */
  B24_RATE_PLAN: z.enum(['standard', 'enterprise', 'auto']).default('auto'),
  /**
   * PBX addresses on loopback/private ranges are refused (SSRF). Operators running the PBX on their LAN,
   * and the tests, allow them explicitly. Link-local and cloud metadata addresses are never allowed.
   */
  PBX_ALLOW_PRIVATE: z.enum(['0', '1', 'true', 'false']).default('false').transform((v) => v === '1' || v === 'true'),
  PBX_ALLOW_LOOPBACK: z.enum(['0', '1', 'true', 'false']).default('false').transform((v) => v === '1' || v === 'true'),
  /**
   * The same rule for the portal address an install names (client_endpoint / DOMAIN): the server calls it with the
   * portal's tokens. Bitrix24 boxes on a LAN, and the tests' emulator on loopback, need these set.
   */
  B24_ALLOW_PRIVATE: z.enum(['0', '1', 'true', 'false']).default('false').transform((v) => v === '1' || v === 'true'),
  B24_ALLOW_LOOPBACK: z.enum(['0', '1', 'true', 'false']).default('false').transform((v) => v === '1' || v === 'true'),
  /**
   * postgres://user:password@host:port/db selects the PostgreSQL store (server/store/postgres/); unset (or empty),
   * the file store in DATA_DIR. Secret (it carries the password): never logged.
   */
  DATABASE_URL: z.string().trim().optional().transform((v) => (v === '' ? undefined : v))
    .refine((v) => v === undefined || /^postgres(?:ql)?:\/\/[^\s]+$/.test(v), 'DATABASE_URL: a postgres:// or postgresql:// URL'),
  /**
   * This instance's name among several sharing one DATABASE_URL (logs, /metrics, the lease owner column); default
   * `<host>:<pid>:<4 hex>`, unique per process so a restarted instance never mistakes its predecessor's leases for its own.
   */
  INSTANCE_ID: z.string().trim().min(1).max(63).regex(/^[\w.:@-]+$/, 'INSTANCE_ID: letters, digits and . : @ - _').optional(),
  /**
   * How long a portal lease lasts without renewal (server/cluster/): renewed every third of it; a dead instance's
   * portals are taken by another within about this long. Below 1 s the renewal cannot keep up with a busy database.
   */
  LEASE_TTL_MS: z.coerce.number().int().min(1_000).max(300_000).default(10_000),
  /** Outbox: attempts before an item is parked as failed. */
  OUTBOX_MAX_ATTEMPTS: z.coerce.number().int().min(1).default(12),
  /**
   * /metrics answers only a scraper presenting `Authorization: Bearer <METRICS_TOKEN>`; unset, /metrics is not served
   * (404): the figures (portals, calls in flight, error counts) are the operator's, not the internet's.
   */
  METRICS_TOKEN: z.string().trim().min(16, 'METRICS_TOKEN: at least 16 characters').max(256).optional(),
  /**
   * Extra parents allowed to frame the app pages (CSP frame-ancestors sources, space-separated), beyond our own origin,
   * Bitrix24 Cloud and the portals that installed the app, e.g. a box reached through a proxy under another name.
   */
  FRAME_ANCESTORS: z.string().default('').transform((v) => v.split(/\s+/).filter((x) => x !== ''))
    .refine((list) => list.every((src) => FRAME_SOURCE.test(src)), 'FRAME_ANCESTORS: space-separated origins like https://crm.example.com or http://127.0.0.1:*'),
});

export type Config = Readonly<{
  port: number;
  host: string;
  publicUrl: string;
  dataDir: string;
  b24ClientId: string;
  b24ClientSecret: string;
  secretKey: string | undefined;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  b24OAuthServer: string;
  b24RatePlan: 'standard' | 'enterprise' | 'auto';
  pbxAllowPrivate: boolean;
  pbxAllowLoopback: boolean;
  b24AllowPrivate: boolean;
  b24AllowLoopback: boolean;
  outboxMaxAttempts: number;
  /** postgres://… (secret): the PostgreSQL store; undefined: the file store in dataDir. */
  databaseUrl: string | undefined;
  /** Unique per process unless INSTANCE_ID names it (server/cluster/ownership.ts). */
  instanceId: string;
  leaseTtlMs: number;
  /** Bearer token /metrics requires; undefined: /metrics is not served. Secret. */
  metricsToken: string | undefined;
  frameAncestors: readonly string[];
}>;

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`CONFIG_INVALID: ${lines.join('; ')}`);
  }
  const e = parsed.data;
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    publicUrl: (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, ''),
    dataDir: e.DATA_DIR,
    b24ClientId: e.B24_CLIENT_ID,
    b24ClientSecret: e.B24_CLIENT_SECRET,
    secretKey: e.SECRET_KEY,
    logLevel: e.LOG_LEVEL,
    b24OAuthServer: e.B24_OAUTH_SERVER,
    b24RatePlan: e.B24_RATE_PLAN,
    pbxAllowPrivate: e.PBX_ALLOW_PRIVATE,
    pbxAllowLoopback: e.PBX_ALLOW_LOOPBACK,
    b24AllowPrivate: e.B24_ALLOW_PRIVATE,
    b24AllowLoopback: e.B24_ALLOW_LOOPBACK,
    outboxMaxAttempts: e.OUTBOX_MAX_ATTEMPTS,
    databaseUrl: e.DATABASE_URL,
    instanceId: e.INSTANCE_ID ?? defaultInstanceId(),
    leaseTtlMs: e.LEASE_TTL_MS,
    metricsToken: e.METRICS_TOKEN,
    frameAncestors: Object.freeze([...e.FRAME_ANCESTORS]),
  });
}
