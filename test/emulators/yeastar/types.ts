/**
 * Shapes shared by the Yeastar P-Series emulator process and its test harness.
 * The PBX's own wire shapes (extension rows, CDR rows, event envelopes) keep Yeastar's snake_case names;
 * the control API (/_emulator/*) uses camelCase because it is ours.
 */

export interface EmulatorOptions {
  clientId: string;
  clientSecret: string;
  /** Access token lifetime; the PBX uses 1800 s (Authorization Rule page). */
  accessTokenTtlSec: number;
  /** Refresh token lifetime; the PBX uses 86400 s. */
  refreshTokenTtlSec: number;
  /** Valid access tokens one API app may hold at once; the PBX allows 8 (Get Access Token page). */
  tokenCap: number;
  /** PBX serial number, sent as `sn` in every event envelope. */
  sn: string;
  /** WebSocket closed after this long without any message from the client; the PBX uses 60 s. */
  wsIdleTimeoutMs: number;
  /** Consecutive failed logins from one IP before it is blocked (5 per the YCM/S-Series "Delete Blocked API IP" pages). */
  authFailuresBeforeBlock: number;
  /** Scenario speed when a scenario gives none: 1 = real time, 1000 = one PBX second per millisecond. */
  defaultSpeed: number;
  /** Trace REST requests, socket opens/closes and emitted events to stderr (YEASTAR_EMULATOR_DEBUG=1 or --debug). */
  debug: boolean;
}

export type ScenarioName =
  | 'inbound-answered'
  | 'inbound-missed'
  | 'inbound-busy'
  | 'inbound-voicemail'
  | 'ring-group'
  | 'queue-ivr'
  | 'blind-transfer'
  | 'outbound-answered'
  | 'outbound-failed'
  | 'internal';

export const SCENARIO_NAMES: readonly ScenarioName[] = [
  'inbound-answered', 'inbound-missed', 'inbound-busy', 'inbound-voicemail', 'ring-group', 'queue-ivr',
  'blind-transfer', 'outbound-answered', 'outbound-failed', 'internal',
];

export interface ScenarioOptions {
  /** Caller: an outside number for inbound scenarios, an extension for outbound/internal ones. */
  from?: string;
  /** Callee: an extension, a list of extensions (ring group / queue agents / transfer target last), or an outside number. */
  to?: string | string[];
  /** Number the outside party dialed (inbound). */
  did?: string;
  trunk?: string;
  /** PBX seconds of conversation (CDR talk_duration, WAV length); inbound-voicemail: the message's length. */
  talkSeconds?: number;
  /** PBX seconds an extension rings before it answers or the caller gives up. */
  ringSeconds?: number;
  record?: boolean;
  /** 1 = real time; 1000 (default) = a PBX second lasts 1 ms. */
  speed?: number;
  /** Stop before the hang-up until `continue` is called for this call. */
  hold?: boolean;
  /**
   * An earlier hold point, until `continue` or a hang-up (the demo's Hang up at any moment): `ringing` while the
   * extension rings (inbound-answered), `on-hold` with the caller put on hold (HOLD) after the talk (inbound-answered),
   * `transfer` while the transfer target rings (blind-transfer).
   */
  holdAt?: 'ringing' | 'on-hold' | 'transfer';
  /** ring-group / queue-ivr: which extension of `to` answers (default: the last one). */
  answeredBy?: string;
  /** outbound-failed / inbound-busy: the 30015 reason text. */
  reason?: string;
  /** Resolve the control request only when the call has ended (CDR written). */
  wait?: boolean;
}

export interface ScenarioResult {
  callId: string;
}

export interface BurstOptions extends ScenarioOptions {
  calls: number;
  concurrency?: number;
  scenario: ScenarioName;
}

export interface BurstResult {
  callIds: string[];
  /** Wall-clock milliseconds the burst took. */
  elapsedMs: number;
}

export interface DialBehavior {
  /** Does the caller extension pick up its ringing phone? (click-to-call rings the caller first) */
  callerAnswers: boolean;
  /** Does the callee answer? */
  calleeAnswers: boolean;
  talkSeconds: number;
  ringSeconds: number;
  record: boolean;
  speed?: number;
  hold: boolean;
}

export interface ExtensionInput {
  number: string;
  name: string;
  email?: string;
  mobile?: string;
  presence?: 'available' | 'away' | 'business_trip' | 'do_not_disturb' | 'lunch' | 'off_work';
}

export interface EmittedEvent {
  /** Epoch ms the emulator emitted it. */
  at: number;
  type: number;
  /** The decoded `msg` (as an object, whatever form went on the wire). */
  msg: Record<string, unknown>;
  callId?: string;
  /** WebSocket clients that received it. */
  deliveredTo: number;
}

export interface TokenStats {
  /** Access tokens valid right now. */
  live: number;
  getTokenCalls: number;
  refreshCalls: number;
  revokeCalls: number;
  /** Refused logins (wrong secret, blocked IP, cap) and refused refreshes. */
  failures: number;
  capRefusals: number;
  blockedIps: string[];
}

export interface RecordedRequest {
  at: number;
  method: string;
  path: string;
  /** Query parameters, with access_token replaced by "[token]". */
  query: Record<string, string>;
  /** JSON body with password / refresh_token replaced by "[redacted]". */
  body?: unknown;
  userAgent?: string;
  /** errcode the emulator answered with (undefined for non-JSON answers). */
  errcode?: number;
}

/**
 * `frozen`: the PBX process hangs (issue 12 point 2): REST requests and new sockets get no answer, open sockets stay
 * open but answer nothing (no `heartbeat response`, no events), and nothing is closed for idleness.
 */
export type FaultKind = 'wrong_secret' | 'ip_blocked' | 'down' | 'slow' | 'frozen';

export interface Fault {
  kind: FaultKind;
  forMs?: number;
  /** slow: delay added to each REST answer (default 2000 ms). */
  delayMs?: number;
}

export interface WebhookConfig {
  url: string;
  secret: string;
  /** Event ids to push; all when omitted. */
  events?: number[];
  method?: 'POST' | 'GET';
}

export interface WebhookDelivery {
  at: number;
  url: string;
  type: number;
  status: number;
  error?: string;
}

export interface EventFormat {
  /** Event ids whose `msg` is sent as a JSON object instead of a JSON string (some doc pages show objects). */
  msgAsObjectFor: number[];
}

export interface SocketInfo {
  id: number;
  topics: number[];
  openedAt: number;
  lastClientMessageAt: number;
}
