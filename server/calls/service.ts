/**
 * The calls service wires the pure machine (machine.ts) to the world: normalized PBX events in, CallRecords
 * persisted, intents carried out as outbox items (Bitrix24 writes), lookups, recordings and timers.
 *
 * Order per input: load → step → persist the new state together with the intents still to do → carry them out →
 * persist again without them. A crash in between leaves the call open with its intents, and start() redoes them;
 * the outbox keys (`<portal>:<pbxCallId>:<what>`) make the redo harmless.
 */
import { createKeyedSerial } from '../keyed-serial.js';
import { callLog, type Logger } from '../log.js';
import { readRegisteredCall } from '../bitrix/telephony.js';
import type { CallEvent } from '../pbx/adapter.js';
import type { Outbox, NewOutboxItem } from '../outbox/types.js';
import type { CrmContacts } from '../contacts/types.js';
import type { CallRecord, OutboxItem, PortalSettings } from '../store/records.js';
import type { BindingsRepository, CallsRepository, PortalsRepository, SettingsRepository } from '../store/types.js';
import {
  newCallState, step, type CallInput, type CallIntent, type CallState, type MachineContext, type Transition,
} from './machine.js';
import {
  HANDLERS, fallbackActivityItem, finishItem, hideItem, registerItem, showItem, callIdOf,
} from './outbox-items.js';
import type { RecordingAttacher } from './recording.js';

export interface CallsOptions {
  /** Wait for the CDR after live events said the call ended, then log from the live events (design §4.3). */
  cdrWaitMs: number;
  /** The CRM lookup may hold the screen pop this long at most; then the card pops without a CRM binding. */
  lookupTimeoutMs: number;
  /** A call nothing was heard of for this long is logged from what is known (lost `ended` and no CDR). */
  staleLiveMs: number;
  /** A PBX event for a call we are dialing (click-to-call) waits this long for the dial to be recorded. */
  dialCorrelationMs: number;
  /** The finish waits this long at most for the recording, to go out with it in one request; then it goes alone. */
  recordingWithFinishMs: number;
}

export const DEFAULT_CALLS_OPTIONS: CallsOptions = Object.freeze({
  cdrWaitMs: 60_000,
  lookupTimeoutMs: 3_000,
  staleLiveMs: 4 * 60 * 60_000,
  dialCorrelationMs: 10_000,
  recordingWithFinishMs: 3_000,
});

export interface CallsServiceDeps {
  log: Logger;
  calls: CallsRepository;
  bindings: BindingsRepository;
  settings: SettingsRepository;
  portals: PortalsRepository;
  outbox: Outbox;
  contacts: CrmContacts;
  recordings: RecordingAttacher;
  normalizePhone(raw: string, defaultCountry: string): string;
  /**
   * Told once a call is logged, before its finish intent is cleared from the record: a crash before it returns
   * makes start() tell it again, so it must be idempotent (missed-call tasks, calls/missed-call-tasks.ts).
   */
  afterLogged?(record: CallRecord): Promise<void>;
  options?: Partial<CallsOptions>;
  now?: () => number;
  /**
   * Whether this instance runs the portal's calls (server/cluster/ownership.ts): start() resumes only owned portals'
   * open calls; a portal taken over later is resumed with resumePortal(). Default: every portal.
   */
  owns?: (portal: string) => boolean;
}

/** What record.machine holds: the machine's state and the intents not yet carried out. */
interface StoredMachine {
  v: 1;
  state: CallState;
  pending: CallIntent[];
}

function isStoredMachine(value: unknown): value is StoredMachine {
  return typeof value === 'object' && value !== null && (value as { v?: unknown }).v === 1
    && typeof (value as { state?: unknown }).state === 'object' && Array.isArray((value as { pending?: unknown }).pending);
}

const callKey = (portal: string, pbxCallId: string): string => `${portal}\u0000${pbxCallId}`;

/** A commit whose writes are queued; `durable` settles once they are on disk. */
interface Staged {
  durable: Promise<void>;
}

const DURABLE: Staged = { durable: Promise.resolve() };

/**
 * The promise itself, marked as handled: a staged write is awaited later (by the event's caller, or by carryOut
 * before work that is not keyed), and its failure must not count as unhandled in between.
 */
function settledLater(write: Promise<void>): Promise<void> {
  write.catch(() => undefined);
  return write;
}

export class CallsService {
  private readonly log: Logger;
  private readonly opts: CallsOptions;
  private readonly now: () => number;
  /**
   * Everything that changes a call's record, one at a time per call: PBX events, CDR-wait and stale timers, Bitrix24's
   * answers to the call's outbox items, recording updates, the record of a call we dialed, the redo after a restart.
   * This service is the one owner of a call's order because it is the one part that sees all of these; the PBX
   * supervisor hands events on as they come and orders nothing (pbx/call-delivery.ts).
   */
  private readonly order = createKeyedSerial();
  /**
   * The PBX events of a call, one at a time per call, each until it is handled. In front of `order` because an event
   * of a call not yet known may first wait for a click-to-call being recorded (awaitDialCorrelation), and that wait
   * cannot sit in `order`: the dial's record queues there (openPlacedCall). A later event of the call never
   * overtakes an earlier one that waits.
   */
  private readonly events = createKeyedSerial();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Click-to-call dials in flight per portal + extension: their first PBX events wait for the correlation. */
  private readonly dialing = new Map<string, Promise<void>>();
  private stopped = false;
  private handlersRegistered = false;
  /** Portals whose open calls were resumed (and whose timers run) here; forgotten when another instance takes one. */
  private readonly resumed = new Set<string>();

  constructor(private readonly deps: CallsServiceDeps) {
    this.log = deps.log.child({ part: 'calls' });
    this.opts = { ...DEFAULT_CALLS_OPTIONS, ...deps.options };
    this.now = deps.now ?? Date.now;
  }

  /**
   * Registers the outbox result/failure handlers by name. Must run before outbox.start(): the outbox re-tells
   * results that arrived before a crash at start, and a name without a handler then would lose them.
   */
  registerOutboxHandlers(): void {
    if (this.handlersRegistered) return;
    this.handlersRegistered = true;
    const { outbox } = this.deps;
    outbox.onResult(HANDLERS.registered, (item, result) => this.onRegistered(item, result));
    outbox.onParked(HANDLERS.registerParked, (item, error) => this.onParked(item, 'register', error));
    outbox.onParked(HANDLERS.finishParked, (item, error) => this.onParked(item, 'finish', error));
    this.deps.recordings.registerHandlers(outbox);
  }

  /** Resumes open calls (redo interrupted intents, re-arm CDR waits) and pending recordings. */
  async start(): Promise<void> {
    this.registerOutboxHandlers();
    await this.resume();
  }

  /** Calls not yet logged, all portals (the calls-in-flight gauge of /metrics). */
  callsInFlight(): number {
    return this.deps.calls.countOpen();
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.deps.recordings.stop();
  }

  /**
   * One normalized PBX event. Resolves once the call's state is durable and its intents are queued.
   * The call's next event is stepped as soon as this one's writes are queued, not once they are durable: the store
   * shows a write at once and keeps one portal's writes in order (journal appends, one query at a time), so the next
   * write joins the next group commit instead of waiting a whole fsync turn for this one (the PBX sends a ringing call's
   * invite and its extension ringing within a millisecond; the screen pop needs both).
   */
  handleEvent(event: CallEvent): Promise<void> {
    let staged: Staged = DURABLE;
    return this.events.run(callKey(event.portal, event.pbxCallId), async () => {
      if (!this.deps.calls.has(event.portal, event.pbxCallId)) await this.awaitDialCorrelation(event);
      staged = await this.applyEvent(event);
    }).then(() => staged.durable);
  }

  /** One PBX event in the call's order: load or create the record, step the machine, stage the commit. */
  private applyEvent(event: CallEvent): Promise<Staged> {
    return this.order.run(callKey(event.portal, event.pbxCallId), async (): Promise<Staged> => {
      let record = this.deps.calls.get(event.portal, event.pbxCallId);
      const settings = this.deps.settings.get(event.portal);
      let state: CallState;
      const created = !record;
      if (record) {
        state = this.stateOf(record) ?? newCallState(event);
      } else {
        if (!settings.enabled) {
          callLog(this.log, event).debug('portal disabled: call not handled');
          return DURABLE;
        }
        state = newCallState(event);
        record = this.newRecord(event, settings);
      }
      this.describe(record, event, settings);
      const t = step(state, { kind: 'event', event }, this.context(event.portal, settings));
      const staged = await this.stage(record, t);
      if (created && t.state.phase === 'live') this.armStaleTimer(record.portal, record.pbxCallId);
      return staged;
    });
  }

  /**
   * Calls we place ourselves (click-to-call, callback): the record is stored with the machine's opening state
   * before the PBX's own events are handled (they wait in awaitDialCorrelation).
   */
  openPlacedCall(record: CallRecord, opening: Transition): Promise<void> {
    return this.serial(record.portal, record.pbxCallId, async () => {
      if (this.deps.calls.has(record.portal, record.pbxCallId)) return;
      await this.commit(record, opening);
      this.armStaleTimer(record.portal, record.pbxCallId);
    });
  }

  /**
   * Marks a dial in progress for this extension until `release` is called: a PBX event of a call not yet known
   * that involves the extension waits for it, so a click-to-call is never mistaken for a new outbound call.
   */
  expectDial(portal: string, extension: string): () => void {
    let release: () => void = () => undefined;
    const done = new Promise<void>((resolve) => { release = resolve; });
    const key = callKey(portal, extension);
    this.dialing.set(key, done);
    return () => {
      if (this.dialing.get(key) === done) this.dialing.delete(key);
      release();
    };
  }

  /** Updates fields of a stored call outside the machine (recordings, CALL_ID), in the call's order. */
  updateRecord(portal: string, pbxCallId: string, patch: (record: CallRecord) => Partial<CallRecord> | undefined): Promise<CallRecord | undefined> {
    let updated: CallRecord | undefined;
    return this.serial(portal, pbxCallId, async () => {
      const record = this.deps.calls.get(portal, pbxCallId);
      if (!record) return;
      const changes = patch(record);
      if (!changes) return;
      updated = { ...record, ...changes, updatedAt: this.now() };
      await this.deps.calls.put(updated);
    }).then(() => updated);
  }

  // ---- internals ----

  private serial(portal: string, pbxCallId: string, work: () => Promise<void>): Promise<void> {
    return this.order.run(callKey(portal, pbxCallId), work);
  }

  private async awaitDialCorrelation(event: CallEvent): Promise<void> {
    const extensions = [...event.extensions.map((x) => x.number), ...(event.cdr?.placedBy ? [event.cdr.placedBy] : [])];
    const waits = extensions.map((ext) => this.dialing.get(callKey(event.portal, ext))).filter((p): p is Promise<void> => p !== undefined);
    if (waits.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(waits),
      new Promise<void>((resolve) => { timer = setTimeout(resolve, this.opts.dialCorrelationMs); }),
    ]);
    clearTimeout(timer);
  }

  private stateOf(record: CallRecord): CallState | undefined {
    return isStoredMachine(record.machine) ? record.machine.state : undefined;
  }

  private pendingOf(record: CallRecord): CallIntent[] {
    return isStoredMachine(record.machine) ? record.machine.pending : [];
  }

  private context(portal: string, settings: PortalSettings): MachineContext {
    return {
      userFor: (ext) => this.deps.bindings.userForExtension(portal, ext),
      cardModeFor: (userId) => this.deps.bindings.cardModeFor(portal, userId),
      unboundCallsUserId: settings.unboundCallsUserId,
      cdrWaitMs: this.opts.cdrWaitMs,
    };
  }

  private newRecord(event: CallEvent, settings: PortalSettings): CallRecord {
    return {
      portal: event.portal,
      pbxCallId: event.pbxCallId,
      direction: event.direction,
      external: event.external ? this.deps.normalizePhone(event.external, settings.defaultCountry) : '',
      ...(event.external.trim() ? { presented: event.external.trim() } : {}),
      extensions: [],
      shownTo: [],
      startedAt: event.cdr?.startedAt ?? event.at,
      talkSeconds: 0,
      origin: 'pbx',
      recordingState: 'none',
      phase: 'live',
      updatedAt: this.now(),
    };
  }

  /** Facts about the call that later events may add (the number, the line, the queue). */
  private describe(record: CallRecord, event: CallEvent, settings: PortalSettings): void {
    if (!record.external && event.external) record.external = this.deps.normalizePhone(event.external, settings.defaultCountry);
    if (!record.presented && event.external.trim()) record.presented = event.external.trim();
    if (event.did && !record.did) record.did = event.did;
    if (event.trunk && !record.trunk) record.trunk = event.trunk;
    if (event.via && !record.via) record.via = event.via;
  }

  private project(record: CallRecord, state: CallState, pending: CallIntent[]): CallRecord {
    const finish = pending.find((i): i is Extract<CallIntent, { type: 'finish' }> => i.type === 'finish');
    const fallback = pending.find((i): i is Extract<CallIntent, { type: 'fallbackActivity' }> => i.type === 'fallbackActivity');
    const userId = finish?.userId ?? fallback?.userId ?? record.userId ?? state.transferUserId ?? state.answeredUserId ?? state.registerUserId;
    const open = state.phase === 'live' || state.phase === 'ended';
    return {
      ...record,
      direction: state.origin === 'pbx' ? record.direction : 'outbound',
      extensions: [...state.rang],
      shownTo: [...state.shownTo],
      ...(state.answeredBy !== undefined ? { answeredBy: state.answeredBy } : {}),
      ...(userId !== undefined ? { userId } : {}),
      startedAt: state.startedAt,
      ...(state.answeredAt !== undefined ? { answeredAt: state.answeredAt } : {}),
      ...(state.endedAt !== undefined ? { endedAt: state.endedAt } : {}),
      talkSeconds: state.talkSeconds,
      ...(state.result !== undefined ? { result: state.result } : {}),
      ...(state.recording !== undefined ? { recording: state.recording } : {}),
      recordingState: state.recordingRequested && record.recordingState === 'none' ? 'pending' : record.recordingState,
      // Terminal only once its intents are out: until then the call stays in listOpen() and is resumed after a crash.
      phase: pending.length > 0 && !open ? 'ended' : state.phase,
      ...(state.note !== undefined ? { note: state.note } : {}),
      machine: { v: 1, state, pending } satisfies StoredMachine,
      updatedAt: this.now(),
    };
  }

  /**
   * Stores the step with its intents pending, carries them out, stores it again without them. The first write and
   * the intents' outbox items are made durable side by side, not one after the other: a ringing call's register waited
   * for the call journal's fsync and then the outbox journal's before it could leave (traced in the bench's latency
   * phase: 20 calls ringing at once, the first register left 43 ms after its ring, 38 of them fsync waits). That order
   * bought nothing: every outbox item is keyed, so a crash that kept the items but not the record redoes the intents
   * from the older record and finds the items stored (enqueue is idempotent by key). What is not keyed — recording
   * jobs, contact sync, the after-logged work — still waits until the record is durable; and an outbox item is still
   * sent only once its own line is durable (outbox/index.ts).
   */
  private async commit(record: CallRecord, t: Transition): Promise<void> {
    await (await this.stage(record, t)).durable;
  }

  /** commit() up to the writes being queued (memory shows them); `durable` settles when they are on disk. */
  private async stage(record: CallRecord, t: Transition): Promise<Staged> {
    if (t.state.phase === 'logged' || t.state.phase === 'ignored') this.clearTimer(record.portal, record.pbxCallId);
    const pending = [...this.pendingOf(record), ...t.intents];
    let current = this.project(record, t.state, pending);
    const stored = settledLater(this.deps.calls.put(current));
    if (pending.length === 0) return { durable: stored };
    current = await this.carryOut(current, pending, stored);
    const done = this.deps.calls.put(this.project(current, t.state, []));
    return { durable: settledLater(Promise.all([stored, done]).then(() => undefined)) };
  }

  /**
   * Carries the intents out in order; the outbox items of one step go in one enqueue (pending together: batchable).
   * `recordStored` is the write of the record with these intents pending: work that is not keyed waits for it.
   */
  private async carryOut(record: CallRecord, intents: CallIntent[], recordStored: Promise<void> = Promise.resolve()): Promise<CallRecord> {
    let current = record;
    const items: NewOutboxItem[] = [];
    const after: (() => void)[] = [];
    let logged = false;
    const portal = this.deps.portals.get(record.portal);
    const lineNumber = portal?.lineNumber || record.did || '';
    for (const intent of intents) {
      switch (intent.type) {
        case 'lookup':
          current = await this.lookup(current, intent.userId);
          break;
        case 'register':
          items.push(registerItem(current, { ...intent, lineNumber }));
          break;
        case 'show':
          items.push(showItem(current, intent.userIds, intent.seq));
          break;
        case 'hide':
          items.push(hideItem(current, intent.userIds, intent.seq));
          break;
        case 'finish':
          items.push(finishItem(current, intent));
          logged = true;
          break;
        case 'fallbackActivity': {
          const item = this.fallbackItem(current, intent.userId, intent.reason);
          if (item) items.push(item);
          else current = { ...current, note: `${intent.reason}; no CRM record to log the call to` };
          break;
        }
        case 'attachRecord': {
          const job = { portal: current.portal, pbxCallId: current.pbxCallId, recording: intent.recording };
          // With the finish in this same step: try to send both in one batch (the request budget of a call).
          const inline = items.some((i) => i.method === 'telephony.externalCall.finish')
            ? await this.deps.recordings.inlineItem(current, job, this.opts.recordingWithFinishMs)
            : undefined;
          if (inline) items.push(inline);
          else after.push(() => this.deps.recordings.attach(job));
          break;
        }
        case 'syncContact': {
          const crm = current.crm;
          if (crm) after.push(() => this.deps.contacts.syncContactAfterCall(current.portal, crm, current.external, intent.received !== false));
          break;
        }
        case 'awaitCdr':
          this.armTimer(current.portal, current.pbxCallId, intent.ms, false);
          break;
        case 'cancelCdrWait':
          this.clearTimer(current.portal, current.pbxCallId);
          break;
      }
    }
    if (items.length > 0) await this.deps.outbox.enqueue(items);
    if (after.length > 0 || (logged && this.deps.afterLogged)) await recordStored;
    if (logged && this.deps.afterLogged) {
      await this.deps.afterLogged(current).catch((err: unknown) => this.log.error({ err, portal: current.portal, callId: current.pbxCallId }, 'after-logged work failed'));
    }
    for (const run of after) run();
    return current;
  }

  private fallbackItem(record: CallRecord, userId: number, reason: string): NewOutboxItem | undefined {
    if (!record.crm) {
      callLog(this.log, record).error({ reason }, 'call could not be logged: Bitrix24 refused it and no CRM record is known');
      return undefined;
    }
    callLog(this.log, record).warn({ reason }, 'call logged as a CRM activity (fallback)');
    return fallbackActivityItem(record, record.crm, userId, reason);
  }

  /** resolveCaller before the first register; bounded so a slow CRM never holds the screen pop for long. */
  private async lookup(record: CallRecord, userId: number): Promise<CallRecord> {
    if (record.crm || !record.external) return record;
    // register binds a record itself when told none, but only one stored with the number's international digits;
    // contacts/ looks the number up in all its forms first unless that can find nothing more (a short code, auto-create
    // off) — then the lookup's request and round trip are saved.
    if (this.deps.contacts.needsLookupBeforeRegister?.(record.portal, record.external, record.direction) === false) return record;
    let timer: NodeJS.Timeout | undefined;
    try {
      const crm = await Promise.race([
        this.deps.contacts.resolveCaller(record.portal, record.external, record.direction, userId, record.presented),
        new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), this.opts.lookupTimeoutMs); }),
      ]);
      return crm ? { ...record, crm } : record;
    } catch (err) {
      callLog(this.log, record).warn({ err }, 'caller lookup failed: screen pop without CRM binding');
      return record;
    } finally {
      clearTimeout(timer);
    }
  }

  private async apply(portal: string, pbxCallId: string, input: CallInput): Promise<void> {
    await this.serial(portal, pbxCallId, async () => {
      const record = this.deps.calls.get(portal, pbxCallId);
      const state = record ? this.stateOf(record) : undefined;
      if (!record || !state) return;
      const t = step(state, input, this.context(portal, this.deps.settings.get(portal)));
      await this.commit(record, t);
    });
  }

  private async onRegistered(item: OutboxItem, result: unknown): Promise<void> {
    const pbxCallId = typeof item.meta?.pbxCallId === 'string' ? item.meta.pbxCallId : undefined;
    const registered = readRegisteredCall(result);
    if (!pbxCallId || !registered) return;
    const { callId, crm, leadCreationError } = registered;
    if (leadCreationError) {
      callLog(this.log, { portal: item.portal, pbxCallId }).warn({ reason: leadCreationError }, 'Bitrix24 could not create a lead for the call');
    }
    await this.updateRecord(item.portal, pbxCallId, (record) => ({
      ...(callId ? { b24CallId: callId } : {}),
      ...(!record.crm && crm ? { crm } : {}),
    }));
  }

  private async onParked(item: OutboxItem, write: 'register' | 'finish', error: string): Promise<void> {
    const pbxCallId = typeof item.meta?.pbxCallId === 'string' ? item.meta.pbxCallId : undefined;
    if (!pbxCallId) return;
    callLog(this.log, { portal: item.portal, pbxCallId }).error({ error }, `telephony.externalCall.${write} parked`);
    await this.apply(item.portal, pbxCallId, { kind: 'writeParked', write, error });
  }

  private armTimer(portal: string, pbxCallId: string, ms: number, stale: boolean): void {
    if (this.stopped) return;
    this.clearTimer(portal, pbxCallId);
    const timer = setTimeout(() => {
      this.timers.delete(callKey(portal, pbxCallId));
      this.onTimer(portal, pbxCallId, stale).catch((err: unknown) => callLog(this.log, { portal, pbxCallId }).error({ err }, 'call timer failed'));
    }, Math.max(0, ms));
    timer.unref();
    this.timers.set(callKey(portal, pbxCallId), timer);
  }

  private armStaleTimer(portal: string, pbxCallId: string): void {
    if (!this.timers.has(callKey(portal, pbxCallId))) this.armTimer(portal, pbxCallId, this.opts.staleLiveMs, true);
  }

  private clearTimer(portal: string, pbxCallId: string): void {
    const key = callKey(portal, pbxCallId);
    const t = this.timers.get(key);
    if (t) clearTimeout(t);
    this.timers.delete(key);
  }

  private async onTimer(portal: string, pbxCallId: string, stale: boolean): Promise<void> {
    // A timer that fires on an instance woken from a pause, before it learnt the portal is another's: the new owner
    // re-armed the call's timer from the store; nothing is done for it here.
    if (this.deps.owns && !this.deps.owns(portal)) return;
    const record = this.deps.calls.get(portal, pbxCallId);
    const state = record ? this.stateOf(record) : undefined;
    if (!state) return;
    if (stale && state.phase === 'live') {
      const quietFor = this.now() - state.lastEventAt;
      if (quietFor < this.opts.staleLiveMs) {
        this.armTimer(portal, pbxCallId, this.opts.staleLiveMs - quietFor, true);
        return;
      }
    }
    await this.apply(portal, pbxCallId, { kind: 'cdrWaitElapsed', at: this.now(), stale });
  }

  /**
   * This instance took the portal over (server/cluster/): its open calls and pending recordings are resumed as after
   * a restart. Once per take-over: a second call (the start and the ownership both asking) does nothing.
   */
  async resumePortal(portal: string): Promise<void> {
    if (this.stopped || this.resumed.has(portal)) return;
    this.resumed.add(portal);
    await this.resumeCalls((record) => record.portal === portal, [portal]);
  }

  /** Another instance owns the portal now: its call timers stop here (the new owner re-arms them from the store). */
  stopPortal(portal: string): void {
    this.resumed.delete(portal);
    const prefix = callKey(portal, '');
    for (const [key, timer] of this.timers) {
      if (!key.startsWith(prefix)) continue;
      clearTimeout(timer);
      this.timers.delete(key);
    }
    this.deps.recordings.stopPortal(portal);
  }

  /** After a restart: redo intents a crash interrupted, re-arm the CDR waits, resume pending recordings. */
  private async resume(): Promise<void> {
    const owns = this.deps.owns ?? (() => true);
    const portals = this.deps.portals.list().map((p) => p.memberId).filter(owns);
    for (const portal of portals) this.resumed.add(portal);
    for (const record of this.deps.calls.listOpen()) if (owns(record.portal)) this.resumed.add(record.portal);
    await this.resumeCalls((record) => owns(record.portal), portals);
  }

  private async resumeCalls(which: (record: CallRecord) => boolean, portals: string[]): Promise<void> {
    const open = this.deps.calls.listOpen().filter(which);
    for (const record of open) {
      const state = this.stateOf(record);
      if (!state) continue;
      const pending = this.pendingOf(record);
      if (pending.length > 0) {
        await this.serial(record.portal, record.pbxCallId, async () => {
          const current = await this.carryOut(record, pending);
          await this.deps.calls.put(this.project(current, state, []));
        });
      }
      if (state.phase === 'ended' && !state.finished) {
        const endedAt = state.endedAt ?? state.lastEventAt;
        this.armTimer(record.portal, record.pbxCallId, endedAt + this.opts.cdrWaitMs - this.now(), false);
      } else if (state.phase === 'live') {
        this.armTimer(record.portal, record.pbxCallId, state.lastEventAt + this.opts.staleLiveMs - this.now(), true);
      }
    }
    if (open.length > 0) this.log.info({ calls: open.length }, 'resumed open calls');
    for (const portal of portals) {
      for (const record of this.deps.calls.listRecent(portal, { limit: 500 })) {
        if (record.recordingState === 'pending' && record.recording && record.phase === 'logged') {
          this.deps.recordings.attach({ portal: record.portal, pbxCallId: record.pbxCallId, recording: record.recording });
        }
      }
    }
  }

  /** The CALL_ID value for outbox params of this call (a reference until register answered). */
  callIdParam(record: CallRecord): ReturnType<typeof callIdOf> {
    return callIdOf(record);
  }
}
