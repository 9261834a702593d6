/**
 * The part boundaries of docs/architecture.md ("Who may import whom") are lint rules in eslint.config.js. This test
 * runs ESLint with that config on one wrong import per rule, each placed (by file path) in the folder the rule
 * guards, and expects the boundary error; and on allowed imports from the same folders, and expects none. A rule
 * that is mistyped, shadowed by a later config block or dropped fails here, not in review.
 */
import { resolve } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type * as Wire from '../../../contract/api-shapes.js';
import type { CallDirection, CallResult } from '../../../server/domain/call.js';
import type { PbxLinkState } from '../../../server/pbx/adapter.js';
import type { CrmEntityType } from '../../../server/store/records.js';

const root = resolve(import.meta.dirname, '../../..');
const eslint = new ESLint({ cwd: root, overrideConfigFile: resolve(root, 'eslint.config.js') });
const RULE = '@typescript-eslint/no-restricted-imports';

/** The boundary errors ESLint reports for `code` as if it were the file `file` (repo-relative; need not exist). */
async function boundaryErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: resolve(root, file) });
  if (!result) throw new Error(`no lint result for ${file}`);
  const fatal = result.messages.filter((m) => m.fatal);
  expect(fatal.map((m) => m.message)).toEqual([]);
  return result.messages.filter((m) => m.ruleId === RULE).map((m) => m.message);
}

const wrong: [file: string, code: string, says: string][] = [
  ['client/stores/probe.ts', "import type { CallRecord } from '../../server/store/records.js';", 'client/ never imports server/'],
  ['client/components/Probe.vue', "<script setup lang=\"ts\">\nimport type { CallRecord } from '../../server/store/records.js';\n</script>\n<template><p /></template>\n", 'client/ never imports server/'],
  ['client/probe.ts', "import type { ApiError } from '../server/http/middleware/errors.js';", 'client/ never imports server/'],
  ['contract/probe.ts', "import type { CallRecord } from '../server/store/records.js';", 'contract/ is the wire'],
  ['contract/probe.ts', "import { api } from '../client/api.js';", 'contract/ is the wire'],
  ['server/store/probe.ts', "import type { PbxAdapter } from '../pbx/adapter.js';", 'store/ must not import pbx/'],
  ['server/store/probe.ts', "import type { TelephonyEventHandlers } from '../calls/types.js';", 'store/ must not import calls/'],
  ['server/store/probe.ts', "import { frameUser } from '../http/context.js';", 'http/ is the outer edge'],
  ['server/pbx/probe.ts', "import { getEntity } from '../bitrix/crm.js';", 'pbx/ must not import bitrix/'],
  ['server/pbx/probe.ts', "import { createYeastarAdapter } from './yeastar/adapter.js';", 'generic pbx/ code never imports pbx/yeastar/'],
  ['server/pbx/yeastar/probe.ts', "import type { BitrixClients } from '../../bitrix/types.js';", 'pbx/ must not import bitrix/'],
  ['server/bitrix/probe.ts', "import type { CallEvent } from '../pbx/adapter.js';", 'bitrix/ must not import pbx/'],
  ['server/calls/probe.ts', "import { frameUser } from '../http/context.js';", 'http/ is the outer edge'],
  ['server/calls/probe.ts', "import { createGuardedAgents } from '../net/guarded-http.js';", 'calls/ must not import net/'],
  ['server/calls/probe.ts', "import { createYeastarAdapter } from '../pbx/yeastar/adapter.js';", 'the Yeastar adapter is reached through PbxAdapter'],
  ['server/calls/probe.ts', "import { loadConfig } from '../config.js';", 'config is parsed once'],
  ['server/calls/probe.ts', "import { createProductParts } from '../parts.js';", 'the composition root wires the parts'],
  ['server/contacts/probe.ts', "import { portalOf } from '../http/api/route-support.js';", 'http/ is the outer edge'],
  ['server/contacts/probe.ts', "import type { CallsService } from '../calls/service.js';", 'contacts/ must not import calls/'],
  ['server/outbox/probe.ts', "import type { CallsService } from '../calls/service.js';", 'outbox/ must not import calls/'],
  ['server/portals/probe.ts', "import { PbxError } from '../pbx/adapter.js';", 'portals/ may import only types of pbx/'],
  ['server/portals/probe.ts', "import type { FrameUser } from '../http/context.js';", 'http/ is the outer edge'],
  ['server/http/api/probe.ts', "import { api } from '../../../client/api.js';", 'server code never imports client/'],
  ['server/pbx/probe.ts', "import type { PortalWork } from '../cluster/portal-work.js';", 'pbx/ must not import cluster/'],
  ['server/calls/probe.ts', "import type { Ownership } from '../cluster/ownership.js';", 'calls/ must not import cluster/'],
  ['server/cluster/probe.ts', "import { findByPhone } from '../bitrix/crm.js';", 'cluster/ must not import bitrix/'],
  ['server/cluster/probe.ts', "import { portalOf } from '../http/api/route-support.js';", 'http/ is the outer edge'],
  ['server/domain/probe.ts', "import type { CallEvent } from '../pbx/adapter.js';", 'shared modules'],
  ['server/probe.ts', "import type { Store } from './store/types.js';", 'shared modules'],
];

const allowed: [file: string, code: string][] = [
  ['client/stores/probe.ts', "import type { CallRow } from '../../contract/api-shapes.js';"],
  ['client/components/Probe.vue', "<script setup lang=\"ts\">\nimport type { CallRow } from '../../contract/api-shapes.js';\n</script>\n<template><p /></template>\n"],
  ['server/http/api/probe.ts', "import type { CallRow } from '../../../contract/api-shapes.js';\nimport type { CallsService } from '../../calls/service.js';"],
  ['server/calls/probe.ts', "import { finishCall } from '../bitrix/telephony.js';\nimport type { PbxAdapter } from '../pbx/adapter.js';\nimport type { CallRecord } from '../store/records.js';\nimport type { Config } from '../config.js';"],
  ['server/store/probe.ts', "import type { CallDirection } from '../domain/call.js';\nimport { callLog } from '../log.js';"],
  ['server/portals/probe.ts', "import type { PbxLinkStatus } from '../pbx/adapter.js';\nimport type { StatusResponse } from '../../contract/api-shapes.js';"],
  ['server/pbx/yeastar/probe.ts', "import { createYeastarAdapter } from './adapter.js';"],
  ['server/parts.ts', "import { callsApiRouter } from './http/api/calls.js';\nimport { createYeastarAdapter } from './pbx/yeastar/adapter.js';"],
  ['server/main.ts', "import { loadConfig } from './config.js';"],
  ['server/cluster/probe.ts', "import type { PbxAdapter } from '../pbx/adapter.js';\nimport type { TelephonyEventHandlers } from '../calls/types.js';\nimport type { Store } from '../store/types.js';"],
];

describe('part boundaries held by lint (eslint.config.js)', () => {
  it.each(wrong)('%s: refuses %s', async (file, code, says) => {
    const errors = await boundaryErrors(file, code);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(says);
  });

  it.each(allowed)('%s: allows %s', async (file, code) => {
    expect(await boundaryErrors(file, code)).toEqual([]);
  });

  it('the words the contract spells out are the server\'s words (checked by tsc; a drift fails the typecheck)', () => {
    expectTypeOf<Wire.CallDirection>().toEqualTypeOf<CallDirection>();
    expectTypeOf<Wire.CallResult>().toEqualTypeOf<CallResult>();
    expectTypeOf<Wire.PbxLinkState>().toEqualTypeOf<PbxLinkState>();
    expectTypeOf<Wire.CrmEntityType>().toEqualTypeOf<CrmEntityType>();
  });
});
