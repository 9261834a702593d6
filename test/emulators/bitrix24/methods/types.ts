/** What a REST method handler receives and returns. */
import type { Params } from '../params.js';
import type { EmulatorState, Portal } from '../state.js';

export interface AuthContext {
  kind: 'app' | 'frame' | 'webhook';
  userId: number;
  webhookCode?: string;
}

export interface MethodContext {
  state: EmulatorState;
  portal: Portal;
  auth: AuthContext;
  params: Params;
  viaBatch: boolean;
  /** The access token of the call, when OAuth (upload URLs embed it as Bitrix24 does). */
  accessToken: string | null;
  /** Scopes granted to the caller (app or webhook): some answers depend on them (user fields). */
  scopes?: string[];
}

export interface MethodOutcome {
  result: unknown;
  total?: number;
  next?: number;
}

export interface MethodSpec {
  run: (ctx: MethodContext) => MethodOutcome | Promise<MethodOutcome>;
  /** Needs application (OAuth) context; a webhook gets 403 WRONG_AUTH_TYPE. */
  appContextOnly?: boolean;
}

export type MethodTable = Record<string, MethodSpec>;

export const ok = (result: unknown): MethodOutcome => ({ result });

/** List methods page by 50 with `start`; `next` only when more remain, `start=-1` skips the count. */
export function page<T>(items: T[], startParam: number | undefined, pageSize = 50): MethodOutcome {
  if (startParam === -1) return { result: items.slice(0, pageSize) };
  const start = Math.max(0, startParam ?? 0);
  const slice = items.slice(start, start + pageSize);
  const out: MethodOutcome = { result: slice, total: items.length };
  if (start + pageSize < items.length) out.next = start + pageSize;
  return out;
}
