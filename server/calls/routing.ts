/**
 * Route to the responsible employee (issue 13): an inbound call the PBX holds for us (Yeastar Control Inbound Call,
 * pbx/yeastar/inbound-control.ts) goes to the extension of the employee responsible for the caller's CRM record when
 * that extension can take a call; every other outcome lets the PBX route it by its inbound route, at once.
 *
 * The PBX holds the caller for 10 s at most, and every millisecond here is ring time the caller hears in silence: the
 * whole decision (CRM search, the record's responsible, the extension's state) has a budget (1.5 s by default); past
 * it, or on any error, the call is accepted to its normal route. A redirect the PBX refuses is followed by an accept.
 * With routing off the held call is accepted at once too: a trunk left in Control Inbound Call must not make every
 * caller wait the PBX's full window because of us.
 * Not done: working hours for routing (the optional part) and "responsible does not answer within N seconds
 * → normal route" (the PBX gives no documented way to move a call that already rings an extension).
 */
import { findByPhone, getEntity, readDuplicates } from '../bitrix/crm.js';
import type { BitrixClients } from '../bitrix/types.js';
import type { Logger } from '../log.js';
import { PbxError, type HeldInboundCall, type InboundCallControl } from '../pbx/adapter.js';
import type { Store } from '../store/types.js';

export interface RoutingDeps {
  log: Logger;
  store: Pick<Store, 'settings' | 'bindings'>;
  clients: BitrixClients;
  normalizePhone(raw: string, defaultCountry: string): string;
  /** The whole decision's budget (ms). */
  budgetMs?: number;
  now?: () => number;
}

export type RoutingOutcome =
  | { kind: 'redirected'; extension: string }
  | { kind: 'accepted'; reason: string };

export class InboundRouter {
  private readonly log: Logger;
  private readonly budgetMs: number;
  private readonly now: () => number;

  constructor(private readonly deps: RoutingDeps) {
    this.log = deps.log.child({ part: 'routing' });
    this.budgetMs = deps.budgetMs ?? 1_500;
    this.now = deps.now ?? Date.now;
  }

  /** Decides and tells the PBX; never throws (a failure to tell is logged: the PBX routes the call itself at the window's end). */
  async route(control: InboundCallControl, call: HeldInboundCall): Promise<RoutingOutcome> {
    const started = this.now();
    const log = this.log.child({ portal: call.portal, callId: call.pbxCallId });
    let outcome: RoutingOutcome;
    try {
      const target = await this.withinBudget(this.target(control, call));
      outcome = target.kind === 'extension' ? { kind: 'redirected', extension: target.extension } : { kind: 'accepted', reason: target.reason };
    } catch (err) {
      log.warn({ err }, 'routing: decision failed; the call takes its normal route');
      outcome = { kind: 'accepted', reason: 'error' };
    }
    if (outcome.kind === 'redirected') {
      try {
        await control.redirect(call, outcome.extension);
        log.info({ extension: outcome.extension, ms: this.now() - started }, 'routing: held call sent to the responsible employee');
        return outcome;
      } catch (err) {
        log.warn({ err, extension: outcome.extension }, 'routing: the PBX refused the redirect; the call takes its normal route');
        outcome = { kind: 'accepted', reason: 'redirect refused' };
      }
    }
    try {
      await control.accept(call);
      log.debug({ reason: outcome.reason, ms: this.now() - started }, 'routing: held call accepted to its normal route');
    } catch (err) {
      // "No such call" is not a fault: the trunk did not hold it (30016 without Control Inbound Call), or the caller
      // already hung up. A warning with its stack for every inbound call cost the screen pop CPU (issue 14).
      if (err instanceof PbxError && err.code === 'PBX_NOT_FOUND') log.debug({ code: err.code }, 'routing: no held call to accept');
      else log.warn({ err }, 'routing: accept refused; the PBX routes the call itself when its window ends');
    }
    return outcome;
  }

  private async withinBudget<T extends { kind: string }>(work: Promise<T>): Promise<T | { kind: 'none'; reason: string }> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        work,
        new Promise<{ kind: 'none'; reason: string }>((resolve) => { timer = setTimeout(() => resolve({ kind: 'none', reason: 'budget exceeded' }), this.budgetMs); }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async target(control: InboundCallControl, call: HeldInboundCall): Promise<{ kind: 'extension'; extension: string } | { kind: 'none'; reason: string }> {
    const settings = this.deps.store.settings.get(call.portal);
    if (!settings.enabled || !settings.routing.enabled) return { kind: 'none', reason: 'routing off' };
    if (!call.from) return { kind: 'none', reason: 'no caller number' };
    const phone = this.deps.normalizePhone(call.from, settings.defaultCountry);
    const client = this.deps.clients.forPortal(call.portal);
    const search = findByPhone([phone]);
    const [crm] = readDuplicates(await client.call<unknown>(search.method, search.params));
    if (!crm) return { kind: 'none', reason: 'unknown caller' };
    const read = getEntity(crm);
    const entity = await client.call<Record<string, unknown>>(read.method, read.params);
    const responsible = Number(entity.ASSIGNED_BY_ID);
    if (!Number.isInteger(responsible) || responsible <= 0) return { kind: 'none', reason: 'no responsible' };
    const extension = this.deps.store.bindings.extensionForUser(call.portal, responsible);
    if (!extension) return { kind: 'none', reason: 'responsible has no extension' };
    const availability = await control.extensionAvailability(extension);
    if (availability !== 'available') return { kind: 'none', reason: `responsible ${availability}` };
    return { kind: 'extension', extension };
  }
}
