/** JSON shapes of the emulator's control API (`/_emulator/*`), shared by the process and the harness. */
import type { Activity, CallRecord, EventBinding, ExternalLine, Notification, PlacementBinding, TimelineComment } from './state.js';

export type FaultKind =
  | 'http503'
  | 'query_limit'
  | 'operation_time_limit'
  | 'expire_all_tokens'
  | 'invalid_grant'
  | 'network_down'
  /** A hostile portal: every REST call answered 307 to `location` (issue 10: redirects must not be followed). */
  | 'redirect'
  /** The OAuth token endpoint answers 302 to `location`. */
  | 'oauth_redirect'
  /** A slow portal: every REST answer comes `delayMs` late (a loaded Bitrix24). */
  | 'slow';

export interface Fault {
  kind: FaultKind;
  /** How long the fault lasts; absent = until cleared with `setFault(…, null)`. */
  forMs?: number;
  /** Where `redirect` / `oauth_redirect` send the client. */
  location?: string;
  /** How late `slow` answers (ms). */
  delayMs?: number;
}

export interface PortalInfo {
  memberId: string;
  domain: string;
  clientEndpoint: string;
  serverEndpoint: string;
  applicationToken: string;
  plan: 'standard' | 'enterprise';
}

export interface RecordedRequest {
  seq: number;
  memberId: string | null;
  method: string;
  /** Parameters as parsed, with `auth` and other secrets replaced by "[redacted]" and FILE_CONTENT by its length. */
  params: Record<string, unknown>;
  httpStatus: number;
  error: string | null;
  errorDescription: string | null;
  /** ISO time the request was received. */
  time: string;
  viaBatch: boolean;
  authKind: 'app' | 'frame' | 'webhook' | 'none';
  userId: number | null;
}

export interface EventDelivery {
  handler: string;
  status: number | null;
  body: string;
  error: string | null;
  /** The form fields exactly as sent (tokens included: tests may need to assert on them). */
  form: Record<string, string>;
}

export interface LoggedDelivery extends EventDelivery {
  memberId: string;
  event: string;
  /** ISO time the POST was sent. */
  at: string;
}

export interface InstallResult {
  installerPage: { status: number; body: string; url: string };
  installEvent: EventDelivery | null;
  adminUserId: number;
}

export interface FrameToken {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  userId: number;
}


export type CallView = Omit<CallRecord, 'records'> & {
  records: (CallRecord['records'][number] & { valid: boolean })[];
};

export interface BindingsView {
  appPresent: boolean;
  installed: boolean;
  events: EventBinding[];
  placements: PlacementBinding[];
  lines: ExternalLine[];
}

export interface CrmActivityView {
  activities: Activity[];
  comments: TimelineComment[];
  notifications: Notification[];
}
