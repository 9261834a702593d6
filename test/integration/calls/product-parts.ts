/**
 * The product's parts as the composition root wires them (server/parts.ts), with timings short enough for tests.
 * Shared by the end-to-end tests (in process and in a child process).
 */
import type { CallsPart } from '../../../server/calls/index.js';
import type { PartsFactory } from '../../../server/index.js';
import { createProductParts } from '../../../server/parts.js';
import type { PbxSupervisor } from '../../../server/pbx/supervisor.js';

export interface WiredParts {
  supervisor?: PbxSupervisor;
  calls?: CallsPart;
}

export function callsProductParts(wired: WiredParts, opts: { cdrWaitMs?: number } = {}): PartsFactory {
  return (core) => {
    const parts = createProductParts(core, {
      supervisor: {
        adapterTimings: { settleMs: 200, heartbeatMs: 1_000, backoffInitialMs: 50, backoffMaxMs: 300 },
        coverageTickMs: 200, recoveryRetryMs: 300, recoveryTailMs: 1_000,
      },
      calls: { cdrWaitMs: opts.cdrWaitMs ?? 5_000 },
    });
    wired.supervisor = parts.supervisor;
    wired.calls = parts.calls;
    return parts;
  };
}
