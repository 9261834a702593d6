import type { PbxBrand } from '../brand.js';
import { createYeastarAdapter, type YeastarTimings } from './adapter.js';
import { downloadGrantedRecording } from './granted-download.js';
import { createPbxWebhookRouter } from './webhook.js';

/**
 * Yeastar P-Series as the PBX brand the supervisor runs (chosen by the composition root, server/parts.ts).
 * `timings` shortens the link's reconnects, heartbeat and settle window in tests; production runs the defaults.
 */
export function yeastarBrand(timings?: Partial<YeastarTimings>): PbxBrand {
  return {
    createAdapter: (portal, settings, { log, addressPolicy }) => createYeastarAdapter({ portal, settings, log, timings, addressPolicy }),
    createWebhookRouter: createPbxWebhookRouter,
    downloadGrantedRecording,
  };
}
