/**
 * What the settings, users and phonebooks routers (server/http/api/{settings,users,phonebooks}.ts) share:
 * their dependencies, body validation and the translation of PBX failures into HTTP answers.
 */
import type { RequestHandler, Response } from 'express';
import type { z } from 'zod';
import type { BitrixClients } from '../../bitrix/types.js';
import type { Config } from '../../config.js';
import { AppError, badRequest } from '../../errors.js';
import { frameUser } from '../context.js';
import { createKeyedSerial } from '../../keyed-serial.js';
import type { Logger } from '../../log.js';
import { PbxError, type PbxAdapter, type PbxConnectionSettings } from '../../pbx/adapter.js';
import type { AddressPolicy } from '../../pbx/address-guard.js';
import type { Store } from '../../store/types.js';

export interface ContactsApiDeps {
  store: Store;
  clients: BitrixClients;
  adapterFor: (portal: string) => PbxAdapter | undefined;
  /** Tells the PBX supervisor to open, reopen or close the portal's link (PbxSupervisor.reconcile). */
  onSettingsChanged: (portal: string) => void | Promise<void>;
  requireAdmin: RequestHandler;
  log: Logger;
  config: Config;
  /** `/pbx/webhook/<key>` of a portal (PbxSupervisor.webhookPath); PUBLIC_URL is put in front. */
  webhookPath: (portal: string) => string;
  /** Drops contacts/' caches of a portal (CrmContactsService.forgetPortal). */
  forgetPortal?: (portal: string) => void;
  /**
   * Tries PBX settings before they are saved (PbxSupervisor.testConnection): wrong credentials are refused, not
   * saved (issue 12 point 3). Absent in test setups that save settings for an address nobody answers.
   */
  testConnection?: (settings: PbxConnectionSettings) => Promise<{ extensions: number }>;
  /** Replaces DNS in the PBX address check (tests). */
  lookup?: AddressPolicy['lookup'];
}

export function portalOf(res: Response): string {
  return frameUser(res).portal.memberId;
}

export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`);
    throw badRequest(`invalid request: ${issues.join('; ')}`);
  }
  return parsed.data;
}

export function connectedAdapter(deps: ContactsApiDeps, portal: string): PbxAdapter {
  const adapter = deps.adapterFor(portal);
  if (!adapter) throw new AppError('PBX_NOT_CONNECTED', 'the PBX is not connected: save and enable the PBX settings first', 409);
  return adapter;
}

/** Runs a PBX operation; its PbxError becomes a 502 with the PBX's reason (the central handler knows AppError). */
export async function askPbx<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof PbxError) {
      const status = error.code === 'PBX_ADDRESS_REFUSED' ? 400 : 502;
      throw new AppError(error.code, error.message.replace(/^[A-Z0-9_]+: /, ''), status, undefined, error);
    }
    throw error;
  }
}

/**
 * Runs changes of one portal one at a time: a settings or bindings change reads, merges and writes, and two admins
 * saving at once must not lose one of the changes.
 */
type PortalSerializer = <T>(portal: string, work: () => Promise<T>) => Promise<T>;

function createPortalSerializer(): PortalSerializer {
  const perPortal = createKeyedSerial();
  return <T>(portal: string, work: () => Promise<T>): Promise<T> => perPortal.run(portal, work);
}

const serializers = new WeakMap<Store, PortalSerializer>();

/** The one serializer of a store's portal changes, shared by the settings and users routers (disconnect vs bindings). */
export function portalChanges(store: Store): PortalSerializer {
  let serial = serializers.get(store);
  if (!serial) {
    serial = createPortalSerializer();
    serializers.set(store, serial);
  }
  return serial;
}

/** Settings changed: the PBX link follows; a failure there shows in the PBX status, it does not fail the save. */
export async function settingsChanged(deps: ContactsApiDeps, portal: string): Promise<void> {
  deps.forgetPortal?.(portal);
  try {
    await deps.onSettingsChanged(portal);
  } catch (error) {
    deps.log.warn({ portal, err: error }, 'PBX link did not follow the new settings');
  }
}
