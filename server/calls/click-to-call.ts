/**
 * Calls started from Bitrix24: click-to-call (ONEXTERNALCALLSTART) and CRM callback forms (ONEXTERNALCALLBACKSTART).
 * https://apidocs.bitrix24.com/api-reference/telephony/events/on-external-call-start.html
 *
 * Click-to-call: Bitrix24 registered the call already; we dial through the user's bound extension, store the PBX call
 * with the event's CALL_ID before the PBX's events are handled, never register it again, and finish that CALL_ID.
 *
 * Callback: no CALL_ID. The user who calls back is, in order: the responsible user of the CRM record (when bound to an
 * extension), the portal's user for unbound calls (when bound), else the first user with a binding. A callback must
 * ring a real extension, so an unbound admin is never chosen.
 *
 * The PBX is asked to dial the number as a person in the portal's country dials it (phone.ts dialNumber: national with
 * the trunk prefix at home, the country's international prefix abroad): that is what its outbound routes match.
 * The call itself is stored with the E.164 form, like every other call. The call is registered as TYPE 4 (callback: the TYPE list of
 * telephony.externalCall.register) and the form's TEXT is sent to that user as a notification before their phone rings.
 */
import type { Logger } from '../log.js';
import { getEntity, readResponsibleUserId } from '../bitrix/crm.js';
import { dialNumber } from '../phone.js';
import { finishCall } from '../bitrix/telephony.js';
import type { BitrixClients } from '../bitrix/types.js';
import type { PbxAdapter } from '../pbx/adapter.js';
import type { Outbox } from '../outbox/types.js';
import type { CallRecord, CrmRef, PortalSettings } from '../store/records.js';
import type { BindingsRepository, CallsRepository, SettingsRepository } from '../store/types.js';
import { openCallback, openClickToCall } from './machine.js';
import { notifyUserItem } from './outbox-items.js';
import type { CallsService } from './service.js';
import type { ExternalCallbackStart, ExternalCallStart, TelephonyEventHandlers } from './types.js';

export interface ClickToCallDeps {
  log: Logger;
  service: Pick<CallsService, 'openPlacedCall' | 'expectDial'>;
  calls: Pick<CallsRepository, 'getByB24CallId'>;
  bindings: BindingsRepository;
  settings: SettingsRepository;
  outbox: Pick<Outbox, 'enqueue'>;
  adapterFor(portal: string): PbxAdapter | undefined;
  /** Reads of the CRM record's responsible user (callbacks only). */
  clients: BitrixClients;
  normalizePhone(raw: string, defaultCountry: string): string;
  /** A repeated click for the same user and number within this window dials once (pitfalls #3: 30 s). */
  dedupMs?: number;
  now?: () => number;
}

const DEFAULT_DEDUP_MS = 30_000;

export class ClickToCall implements TelephonyEventHandlers {
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly dedupMs: number;
  /** CALL_IDs being handled now, and recent (user, number) dials. */
  private readonly inFlight = new Set<string>();
  private readonly recent = new Map<string, { at: number; b24CallId: string }>();

  constructor(private readonly deps: ClickToCallDeps) {
    this.log = deps.log.child({ part: 'click-to-call' });
    this.now = deps.now ?? Date.now;
    this.dedupMs = deps.dedupMs ?? DEFAULT_DEDUP_MS;
  }

  async externalCallStart(portal: string, event: ExternalCallStart): Promise<void> {
    const log = this.log.child({ portal, b24CallId: event.b24CallId, userId: event.userId });
    const flightKey = `${portal}\u0000${event.b24CallId}`;
    if (this.inFlight.has(flightKey) || this.deps.calls.getByB24CallId(portal, event.b24CallId)) {
      log.info('repeated ONEXTERNALCALLSTART: already dialing this CALL_ID');
      return;
    }
    const settings = this.deps.settings.get(portal);
    const number = this.deps.normalizePhone(event.phoneNumber, settings.defaultCountry);
    this.prune();
    const recentKey = `${portal}\u0000${event.userId}\u0000${number}`;
    const previous = this.recent.get(recentKey);
    if (previous && previous.b24CallId !== event.b24CallId && this.stillDialing(portal, previous.b24CallId)) {
      // Same click delivered twice under two CALL_IDs: one dial; the spare CALL_ID is closed as cancelled.
      log.info({ previous: previous.b24CallId }, 'repeated click-to-call within the dedup window: not dialed again');
      await this.refuse(portal, event, '603-S', 'duplicate click-to-call request', undefined);
      return;
    }
    this.inFlight.add(flightKey);
    try {
      const extension = this.deps.bindings.extensionForUser(portal, event.userId);
      if (!extension) {
        await this.refuse(portal, event, '603', 'no PBX extension is bound to this user',
          'Your click-to-call could not start: no PBX extension is bound to your Bitrix24 user. Ask your administrator to bind one in the PBX connector settings.');
        return;
      }
      const adapter = settings.enabled ? this.deps.adapterFor(portal) : undefined;
      if (!adapter) {
        await this.refuse(portal, event, '603', 'the PBX connection is not enabled',
          'Your click-to-call could not start: the PBX connection of this portal is switched off or not configured.');
        return;
      }
      this.recent.set(recentKey, { at: this.now(), b24CallId: event.b24CallId });
      const release = this.deps.service.expectDial(portal, extension);
      try {
        let pbxCallId: string;
        try {
          ({ pbxCallId } = await adapter.dial(extension, dialNumber(number, settings.defaultCountry)));
        } catch (err) {
          log.warn({ err, extension }, 'click-to-call dial refused by the PBX');
          await this.refuse(portal, event, '603', 'the PBX refused the dial',
            `Your call to ${number} could not start: the PBX refused it (${err instanceof Error ? err.message : String(err)}).`);
          return;
        }
        const at = this.now();
        const record = placedRecord(portal, pbxCallId, number, at, 'click-to-call', event.crm);
        record.b24CallId = event.b24CallId;
        record.userId = event.userId;
        await this.deps.service.openPlacedCall(record, openClickToCall(event.userId, extension, at));
        log.child({ pbxCallId }).info({ extension }, 'click-to-call dialed');
      } finally {
        release();
      }
    } finally {
      this.inFlight.delete(flightKey);
    }
  }

  async externalCallbackStart(portal: string, event: ExternalCallbackStart): Promise<void> {
    const settings = this.deps.settings.get(portal);
    const log = this.log.child({ portal });
    const adapter = settings.enabled ? this.deps.adapterFor(portal) : undefined;
    if (!adapter) {
      log.warn('callback request while the PBX connection is off: not placed');
      return;
    }
    const caller = await this.callbackUser(portal, event.crm, settings);
    if (!caller) {
      log.warn('callback request: no user with a bound extension to place it');
      return;
    }
    const number = this.deps.normalizePhone(event.phoneNumber, settings.defaultCountry);
    this.prune();
    const recentKey = `${portal}\u0000callback\u0000${number}`;
    if (this.recent.has(recentKey)) {
      log.info('repeated callback request for the same number within the dedup window: not dialed again');
      return;
    }
    this.recent.set(recentKey, { at: this.now(), b24CallId: '' });
    const release = this.deps.service.expectDial(portal, caller.extension);
    try {
      const text = event.text.trim();
      if (text) {
        await this.deps.outbox.enqueue([notifyUserItem(portal, `callback:${number}`, `${portal}:callback:${number}:${this.now()}`, caller.userId,
          `Callback request from ${number}: ${text}`)]);
      }
      const { pbxCallId } = await adapter.dial(caller.extension, dialNumber(number, settings.defaultCountry));
      const at = this.now();
      const record = placedRecord(portal, pbxCallId, number, at, 'callback', event.crm);
      record.userId = caller.userId;
      await this.deps.service.openPlacedCall(record, openCallback(caller.userId, caller.extension, at));
      log.child({ pbxCallId }).info({ extension: caller.extension }, 'callback dialed');
    } catch (err) {
      log.error({ err }, 'callback could not be placed');
      await this.deps.outbox.enqueue([notifyUserItem(portal, `callback:${number}`, `${portal}:callback-failed:${number}:${this.now()}`, caller.userId,
        `A callback to ${number} could not be placed by the PBX: ${err instanceof Error ? err.message : String(err)}`)]);
    } finally {
      release();
    }
  }

  /** Finishes a click-to-call CALL_ID we cannot dial, and tells the user why (when there is something to say). */
  private async refuse(portal: string, event: ExternalCallStart, statusCode: '603' | '603-S', reason: string, message: string | undefined): Promise<void> {
    const group = `click:${event.b24CallId}`;
    const finish = finishCall({ callId: event.b24CallId, userId: event.userId, durationSeconds: 0, statusCode, failedReason: reason });
    await this.deps.outbox.enqueue([
      ...(message ? [notifyUserItem(portal, group, `${portal}:${event.b24CallId}:notify`, event.userId, message)] : []),
      { portal, group, key: `${portal}:${event.b24CallId}:finish`, method: finish.method, params: finish.params },
    ]);
  }

  private async callbackUser(portal: string, crm: CrmRef | null, settings: PortalSettings): Promise<{ userId: number; extension: string } | undefined> {
    const withExtension = (userId: number | null | undefined) => {
      if (userId === null || userId === undefined) return undefined;
      const extension = this.deps.bindings.extensionForUser(portal, userId);
      return extension ? { userId, extension } : undefined;
    };
    if (crm) {
      try {
        const call = getEntity(crm);
        const responsible = readResponsibleUserId(await this.deps.clients.forPortal(portal).call<unknown>(call.method, call.params));
        const found = responsible !== undefined ? withExtension(responsible) : undefined;
        if (found) return found;
      } catch (err) {
        this.log.warn({ err, portal }, 'callback: could not read the responsible user of the CRM record');
      }
    }
    const fallback = withExtension(settings.unboundCallsUserId);
    if (fallback) return fallback;
    const [first] = [...this.deps.bindings.list(portal)].sort((a, b) => a.userId - b.userId);
    return first ? { userId: first.userId, extension: first.extension } : undefined;
  }

  /** The earlier click's call is being dialed or still in progress (a finished one does not block calling again). */
  private stillDialing(portal: string, b24CallId: string): boolean {
    if (this.inFlight.has(`${portal}\u0000${b24CallId}`)) return true;
    const record = this.deps.calls.getByB24CallId(portal, b24CallId);
    return record !== undefined && (record.phase === 'live' || record.phase === 'ended');
  }

  private prune(): void {
    const cutoff = this.now() - this.dedupMs;
    for (const [key, value] of this.recent) if (value.at < cutoff) this.recent.delete(key);
  }
}

function placedRecord(
  portal: string, pbxCallId: string, external: string, at: number, origin: 'click-to-call' | 'callback', crm: CrmRef | null,
): CallRecord {
  return {
    portal,
    pbxCallId,
    direction: 'outbound',
    external,
    extensions: [],
    shownTo: [],
    startedAt: at,
    talkSeconds: 0,
    origin,
    ...(crm ? { crm } : {}),
    recordingState: 'none',
    phase: 'live',
    updatedAt: at,
  };
}
