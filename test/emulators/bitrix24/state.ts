/**
 * In-memory state of the emulated Bitrix24 cloud: portals (each on its own loopback port, as each
 * real portal has its own host), the OAuth server's tokens and what every portal has received.
 */
import type { Server } from 'node:http';
import type { LeakyBucket } from './rate-limit.js';
import type { Fault, RecordedRequest } from './control-types.js';

export type Plan = 'standard' | 'enterprise';
/** Deals live beside the three phone-bearing kinds; duplicate search and telephony binding never look at them. */
export type CrmEntityType = 'CONTACT' | 'LEAD' | 'COMPANY' | 'DEAL';
export const CRM_ENTITY_TYPES: readonly CrmEntityType[] = ['LEAD', 'CONTACT', 'COMPANY', 'DEAL'];

export interface User {
  ID: number;
  NAME: string;
  LAST_NAME: string;
  EMAIL: string;
  ACTIVE: boolean;
  ADMIN: boolean;
  UF_PHONE_INNER: string;
  WORK_PHONE: string;
  PERSONAL_MOBILE: string;
}

export interface MultiField {
  ID: number;
  TYPE_ID: 'PHONE' | 'EMAIL' | 'WEB' | 'IM';
  VALUE: string;
  VALUE_TYPE: string;
}

export interface CrmEntity {
  id: number;
  type: CrmEntityType;
  /** UPPER_CASE scalar fields as the legacy crm.<type>.* methods use them. */
  fields: Record<string, unknown>;
  multi: MultiField[];
  createdAt: string;
  updatedAt: string;
}

export interface Activity {
  ID: number;
  OWNER_TYPE_ID: number;
  OWNER_ID: number;
  TYPE_ID: number;
  PROVIDER_ID: string;
  PROVIDER_TYPE_ID: string;
  SUBJECT: string;
  DIRECTION: number;
  COMPLETED: 'Y' | 'N';
  RESPONSIBLE_ID: number;
  START_TIME: string;
  END_TIME: string;
  DESCRIPTION: string;
  COMMUNICATIONS: { VALUE: string; ENTITY_ID: number; ENTITY_TYPE_ID: number }[];
  ORIGIN_ID: string;
  FILES: { id: number; name: string }[];
  SETTINGS: Record<string, unknown>;
}

export interface TimelineComment {
  ID: number;
  ENTITY_TYPE: string;
  ENTITY_ID: number;
  COMMENT: string;
  AUTHOR_ID: number;
  CREATED: string;
}

export interface ExternalLine {
  ID: number;
  NUMBER: string;
  NAME: string;
  CRM_AUTO_CREATE: 'Y' | 'N';
}

export interface StoredFile {
  id: number;
  name: string;
  size: number;
  kind: 'wav' | 'mp3';
  bytes: Buffer;
}

export interface CallRecord {
  callId: string;
  userId: number;
  phoneNumber: string;
  type: number;
  lineNumber: string;
  externalCallId: string | null;
  registeredAt: number;
  startDate: string;
  crmEntityType: CrmEntityType | '';
  crmEntityId: number | null;
  crmCreatedEntities: { ENTITY_TYPE: CrmEntityType; ENTITY_ID: number }[];
  /** Whether the call came from Bitrix24 itself (click-to-call) rather than telephony.externalCall.register. */
  origin: 'register' | 'click_to_call';
  registerParams: Record<string, unknown>;
  shownTo: number[];
  showHistory: { action: 'show' | 'hide'; userIds: number[]; at: number }[];
  finished: null | {
    params: Record<string, unknown>;
    statistic: Record<string, unknown>;
    at: number;
  };
  records: { fileId: number; name: string; size: number; kind: 'wav' | 'mp3'; via: 'content' | 'url' | 'upload'; at: number }[];
}

export interface EventBinding {
  event: string;
  handler: string;
  authType: number;
  offline: boolean;
  id: number;
}

export interface PlacementBinding {
  placement: string;
  handler: string;
  title: string;
  description: string;
  userId: number;
  options: Record<string, unknown>;
  langAll: Record<string, unknown>;
}

export interface Notification {
  userId: number;
  message: string;
  tag: string;
  kind: 'system' | 'personal';
  at: number;
}

export interface Webhook {
  code: string;
  userId: number;
  scopes: string[];
}

export interface Portal {
  memberId: string;
  domain: string;
  port: number;
  server: Server | null;
  plan: Plan;
  applicationToken: string;
  /** ONAPPINSTALL given / app present on the portal. */
  appPresent: boolean;
  /** installFinish done: events delivered, placements shown. */
  installed: boolean;
  langId: string;
  /**
   * The licence's region, the prefix of app.info LICENSE (`ru_project`, `de_ent10000`,
   * dev.1c-bitrix.ru/rest_help/general/app_info.php): `en` for the international cloud.
   */
  region: string;
  users: Map<number, User>;
  nextUserId: number;
  crm: Map<CrmEntityType, Map<number, CrmEntity>>;
  nextCrmId: Record<CrmEntityType, number>;
  nextMultiId: number;
  activities: Map<number, Activity>;
  nextActivityId: number;
  comments: TimelineComment[];
  lines: Map<string, ExternalLine>;
  nextLineId: number;
  calls: Map<string, CallRecord>;
  nextStatisticId: number;
  events: EventBinding[];
  nextEventId: number;
  placements: PlacementBinding[];
  webhooks: Map<string, Webhook>;
  notifications: Notification[];
  files: Map<number, StoredFile>;
  nextFileId: number;
  /** Pending attachRecord uploads by upload token. */
  uploads: Map<string, { callId: string; filename: string }>;
  bucket: LeakyBucket;
  fault: Fault | null;
  faultUntil: number | null;
}

export interface AccessToken {
  token: string;
  memberId: string;
  userId: number;
  kind: 'app' | 'frame';
  expiresAt: number;
  /** The application the token was issued to; absent: ours (config.clientId). Another app's tokens are valid REST tokens too. */
  clientId?: string;
}

export interface RefreshToken {
  token: string;
  memberId: string;
  userId: number;
  kind: 'app' | 'frame';
  clientId?: string;
}

export interface EmulatorConfig {
  clientId: string;
  clientSecret: string;
  accessTokenTtlSec: number;
  rateLimit: boolean;
  drainRate: number | null;
  burst: number | null;
  /** Timeout for event and installer POSTs to the app. */
  deliveryTimeoutMs: number;
  /** Scopes the app was registered with (tokens get these). */
  appScopes: string[];
}

export interface EmulatorState {
  config: EmulatorConfig;
  portals: Map<string, Portal>;
  accessTokens: Map<string, AccessToken>;
  refreshTokens: Map<string, RefreshToken>;
  /** Every access and refresh token ever issued (revoked ones included), for tests that scan output for leaks. */
  issuedTokens: string[];
  requests: RecordedRequest[];
  refreshCount: Map<string, number>;
  globalFault: Fault | null;
  globalFaultUntil: number | null;
  /** Base URL of the OAuth server (this process's main listener), e.g. http://127.0.0.1:4000. */
  oauthBaseUrl: string;
  /** Queues an event for the app's bound handlers (set by the emulator; methods call it on CRM changes). */
  emitEvent: ((memberId: string, event: string, data: unknown) => void) | null;
}

export function createState(config: EmulatorConfig): EmulatorState {
  return {
    config,
    portals: new Map(),
    accessTokens: new Map(),
    refreshTokens: new Map(),
    issuedTokens: [],
    requests: [],
    refreshCount: new Map(),
    globalFault: null,
    globalFaultUntil: null,
    oauthBaseUrl: '',
    emitEvent: null,
  };
}

/** The client_id of the application a token was issued to. */
export function clientIdOf(state: EmulatorState, token: { clientId?: string }): string {
  return token.clientId ?? state.config.clientId;
}

export function clientEndpointOf(portal: Portal): string {
  return `http://${portal.domain}/rest/`;
}

export function serverEndpointOf(state: EmulatorState): string {
  return `${state.oauthBaseUrl}/rest/`;
}
