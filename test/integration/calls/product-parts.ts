/**
 * The product's parts as the composition root wires them (server/parts.ts), with the tests' short timings
 * (test/support/product-options.ts), and handles on the supervisor and calls service.
 * Shared by the end-to-end tests (in process and in a child process).
 */
import type { CallsPart } from '../../../server/calls/index.js';
import type { PartsFactory } from '../../../server/parts-types.js';
import { createProductParts } from '../../../server/parts.js';
import type { PbxSupervisor } from '../../../server/pbx/supervisor.js';
import { fastPartsOptions } from '../../support/product-options.js';

export interface WiredParts {
  supervisor?: PbxSupervisor;
  calls?: CallsPart;
}

export function callsProductParts(wired: WiredParts, opts: { cdrWaitMs?: number } = {}): PartsFactory {
  return (core) => {
    const parts = createProductParts(core, fastPartsOptions({ cdrWaitMs: opts.cdrWaitMs ?? 5_000 }));
    wired.supervisor = parts.supervisor;
    wired.calls = parts.calls;
    return parts;
  };
}
