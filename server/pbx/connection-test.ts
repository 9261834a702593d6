import type { Logger } from '../log.js';
import type { PbxConnectionSettings } from './adapter.js';
import { assertPbxAddressAllowed, type AddressPolicy } from './address-guard.js';
import type { PbxAdapterFactory } from './brand.js';

export interface PbxTestResult {
  extensions: number;
}

export interface ConnectionTestOptions {
  createAdapter: PbxAdapterFactory;
  addressPolicy: AddressPolicy;
  log: Logger;
}

/**
 * The settings page's "Test connection": address, credentials and API access checked with these settings on an
 * adapter of its own, so the portal's live link (if any) is not touched; the adapter is closed again either way.
 */
export async function testPbxConnection(settings: PbxConnectionSettings, opts: ConnectionTestOptions): Promise<PbxTestResult> {
  await assertPbxAddressAllowed(settings.baseUrl, opts.addressPolicy);
  const adapter = opts.createAdapter('connection-test', settings, { log: opts.log, addressPolicy: opts.addressPolicy });
  try {
    await adapter.testConnection();
    const extensions = await adapter.listExtensions();
    return { extensions: extensions.length };
  } finally {
    await adapter.disconnect().catch(() => undefined);
  }
}
