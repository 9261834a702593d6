/**
 * `batch`: up to 50 sub-requests run in order, `$result[key][FIELD]…` references to earlier results,
 * `halt` stops at the first error; no nested batch since rest 24.0.0.
 * https://apidocs.bitrix24.com/settings/how-to-call-rest-api/batch.html
 */
import { RestError } from './errors.js';
import { isRecord, isTruthyFlag, parseQueryString, type Params } from './params.js';
import type { TimeInfo } from './time-envelope.js';

export interface SubCommand {
  key: string;
  method: string;
  params: Params;
}

export interface SubOutcome {
  ok: boolean;
  result?: unknown;
  total?: number;
  next?: number;
  error?: { error: string; error_description: string };
  time: Omit<TimeInfo, 'operating' | 'operating_reset_at'>;
}

export const MAX_BATCH = 50;

function parseCommand(key: string, value: unknown): SubCommand {
  if (typeof value === 'string') {
    const q = value.indexOf('?');
    const method = (q < 0 ? value : value.slice(0, q)).trim();
    return { key, method, params: q < 0 ? {} : parseQueryString(value.slice(q + 1)) };
  }
  // BX24.callBatch style: ['method', params] or {method, params}.
  if (Array.isArray(value) && typeof value[0] === 'string') {
    return { key, method: value[0], params: isRecord(value[1]) ? value[1] : {} };
  }
  if (isRecord(value) && typeof value.method === 'string') {
    return { key, method: value.method, params: isRecord(value.params) ? value.params : {} };
  }
  throw new RestError('ERROR_BATCH_ARGUMENT', `Wrong command "${key}"`, 400);
}

export function parseBatchCommands(params: Params): { commands: SubCommand[]; halt: boolean; asList: boolean } {
  const cmd = params.cmd;
  let entries: [string, unknown][];
  let asList = false;
  if (Array.isArray(cmd)) {
    entries = cmd.map((v, i) => [String(i), v]);
    asList = true;
  } else if (isRecord(cmd)) {
    entries = Object.entries(cmd);
  } else {
    entries = [];
  }
  if (entries.length > MAX_BATCH) {
    throw new RestError('ERROR_BATCH_LENGTH_EXCEEDED', `Max batch length exceeded ${MAX_BATCH}`, 400);
  }
  return { commands: entries.map(([k, v]) => parseCommand(k, v)), halt: isTruthyFlag(params.halt), asList };
}

function lookupPath(root: unknown, path: string[]): unknown {
  let node: unknown = root;
  for (const part of path) {
    if (Array.isArray(node)) node = node[Number(part)];
    else if (isRecord(node)) node = node[part];
    else return undefined;
  }
  return node;
}

const REF = /\$result\[([^\]]+)\]((?:\[[^\]]*\])*)/g;

/** Replaces `$result[key][a][0]` in every string value with the earlier sub-result's value. */
export function substituteReferences(params: Params, results: Record<string, unknown>): Params {
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') {
      return value.replace(REF, (_m, key: string, rest: string) => {
        const path = [...rest.matchAll(/\[([^\]]*)\]/g)].map((m) => m[1] ?? '');
        const found = lookupPath(results[key], path);
        if (found === undefined || found === null) return '';
        return typeof found === 'object' ? JSON.stringify(found) : String(found);
      });
    }
    if (Array.isArray(value)) return value.map(walk);
    if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)]));
    return value;
  };
  return walk(params) as Params;
}

/** PHP serializes an empty associative array as `[]`: so does the real batch answer. */
export function phpMap(map: Record<string, unknown>, asList: boolean): unknown {
  const keys = Object.keys(map);
  if (keys.length === 0) return [];
  if (asList) {
    const sequential = keys.every((k, i) => k === String(i));
    if (sequential) return keys.map((k) => map[k]);
  }
  return map;
}
