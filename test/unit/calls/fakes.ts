/**
 * In-memory stand-ins for the calls service's collaborators. The outbox fake keeps the real contract that matters
 * here: items are persisted with their key (a second item with the same key is a no-op) and handlers are called by name.
 */
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../../server/log.js';
import type {
  NewOutboxItem, Outbox, OutboxFailureHandler, OutboxResultHandler, OutboxStats,
} from '../../../server/outbox/types.js';
import type {
  CallEvent, CallRecordingRef, PbxAdapter, PbxLinkStatus, RecordingDownload,
} from '../../../server/pbx/adapter.js';
import {
  DEFAULT_SETTINGS, type Binding, type CallRecord, type CardMode, type CrmEntityType, type CrmRef, type OutboxItem, type Portal, type PortalSettings,
} from '../../../server/store/records.js';
import type {
  BindingsRepository, CallsRepository, PortalsRepository, SettingsRepository,
} from '../../../server/store/types.js';
import type { CrmContacts } from '../../../server/contacts/types.js';

export const silentLog = (): Logger => pino({ level: 'silent' });

export class FakeOutbox implements Outbox {
  readonly items: OutboxItem[] = [];
  private readonly results = new Map<string, OutboxResultHandler>();
  private readonly parked = new Map<string, OutboxFailureHandler>();
  private seq = 0;
  /** Set to make the next enqueue fail (a full disk). */
  failNext = false;

  async enqueue(items: NewOutboxItem[]): Promise<OutboxItem[]> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('ENOSPC: disk full');
    }
    const stored: OutboxItem[] = [];
    for (const n of items) {
      if (n.key && this.items.some((i) => i.portal === n.portal && i.key === n.key)) continue;
      this.seq += 1;
      const item: OutboxItem = {
        id: n.id ?? `item-${this.seq}`, portal: n.portal, group: n.group, seq: this.seq, method: n.method, params: n.params,
        ...(n.key ? { key: n.key } : {}), ...(n.onDone ? { onDone: n.onDone } : {}), ...(n.onFailed ? { onFailed: n.onFailed } : {}),
        ...(n.meta ? { meta: n.meta } : {}), status: 'pending', attempts: 0, nextAttemptAt: 0, createdAt: Date.now(),
      };
      this.items.push(item);
      stored.push(item);
    }
    return stored;
  }

  onResult(name: string, handler: OutboxResultHandler): void { this.results.set(name, handler); }
  onParked(name: string, handler: OutboxFailureHandler): void { this.parked.set(name, handler); }

  /** Plays the worker: the item succeeded with this result. */
  async complete(item: OutboxItem, result: unknown): Promise<void> {
    item.status = 'done';
    item.result = result;
    if (item.onDone) await this.results.get(item.onDone)?.(item, result);
  }

  async park(item: OutboxItem, error: string): Promise<void> {
    item.status = 'failed';
    item.lastError = error;
    if (item.onFailed) await this.parked.get(item.onFailed)?.(item, error);
  }

  byMethod(method: string): OutboxItem[] { return this.items.filter((i) => i.method === method); }
  one(method: string): OutboxItem {
    const found = this.byMethod(method);
    if (found.length !== 1) throw new Error(`expected one ${method}, got ${found.length}`);
    return found[0] as OutboxItem;
  }

  stats(): OutboxStats { return { pending: this.items.filter((i) => i.status === 'pending').length, failed: 0, sentRequests: 0 }; }
  failed(portal: string): OutboxItem[] { return this.items.filter((i) => i.portal === portal && i.status === 'failed'); }
  async retry(): Promise<void> { /* not used by calls */ }
  async idle(): Promise<void> { /* not used by calls */ }
  start(): void { /* not used by calls */ }
  async stop(): Promise<void> { /* not used by calls */ }
}

export class MemoryCalls implements CallsRepository {
  readonly rows = new Map<string, CallRecord>();
  private k = (portal: string, id: string) => `${portal}|${id}`;
  get(portal: string, pbxCallId: string) { return clone(this.rows.get(this.k(portal, pbxCallId))); }
  has(portal: string, pbxCallId: string) { return this.rows.has(this.k(portal, pbxCallId)); }
  getByB24CallId(portal: string, b24CallId: string) {
    return clone([...this.rows.values()].find((r) => r.portal === portal && r.b24CallId === b24CallId));
  }
  async put(record: CallRecord) { this.rows.set(this.k(record.portal, record.pbxCallId), structuredClone(record)); }
  private sorted(portal: string, before?: number) {
    return [...this.rows.values()].filter((r) => r.portal === portal && (before === undefined || r.startedAt < before))
      .sort((a, b) => b.startedAt - a.startedAt);
  }
  listByEntity(portal: string, entityType: CrmEntityType, entityId: number, opts: { limit?: number; before?: number } = {}) {
    return this.sorted(portal, opts.before).filter((r) => r.crm?.entityType === entityType && r.crm.entityId === entityId)
      .slice(0, opts.limit ?? 50).map((r) => structuredClone(r));
  }
  listByPhone(portal: string, e164: string, opts: { limit?: number } = {}) {
    return this.sorted(portal).filter((r) => r.external === e164).slice(0, opts.limit ?? 50).map((r) => structuredClone(r));
  }
  listRecent(portal: string, opts: { limit?: number; before?: number } = {}) {
    return this.sorted(portal, opts.before).slice(0, opts.limit ?? 50).map((r) => structuredClone(r));
  }
  countOpen() { return this.listOpen().length; }
  listOpen() { return [...this.rows.values()].filter((r) => r.phase === 'live' || r.phase === 'ended').map((r) => structuredClone(r)); }
  count(portal: string) { return this.sorted(portal).length; }
  async removePortal(portal: string) { for (const [k, r] of this.rows) if (r.portal === portal) this.rows.delete(k); }
}

function clone<T>(v: T | undefined): T | undefined { return v === undefined ? undefined : structuredClone(v); }

export class MemoryBindings implements BindingsRepository {
  constructor(private bindings: Record<string, Binding[]> = {}) {}
  list(memberId: string) { return this.bindings[memberId] ?? []; }
  async replace(memberId: string, bindings: Binding[]) { this.bindings[memberId] = bindings; }
  userForExtension(memberId: string, extension: string) { return this.list(memberId).find((b) => b.extension === extension)?.userId; }
  extensionForUser(memberId: string, userId: number) { return this.list(memberId).find((b) => b.userId === userId)?.extension; }
  readonly modes: Record<string, Record<number, CardMode>> = {};
  cardModeFor(memberId: string, userId: number): CardMode { return this.modes[memberId]?.[userId] ?? 'ring'; }
  cardModes(memberId: string) { return { ...this.modes[memberId] }; }
  async setCardModes(memberId: string, modes: Record<number, CardMode>) { this.modes[memberId] = { ...this.modes[memberId], ...modes }; }
}

export class MemorySettings implements SettingsRepository {
  constructor(private settings: Record<string, Partial<PortalSettings>> = {}) {}
  get(memberId: string): PortalSettings { return { ...DEFAULT_SETTINGS, ...this.settings[memberId] }; }
  async put(memberId: string, settings: PortalSettings) { this.settings[memberId] = settings; }
  async clear(memberId: string) { delete this.settings[memberId]; }
}

export function portal(memberId: string, lineNumber = 'line-1'): Portal {
  return {
    memberId, domain: `${memberId}.bitrix24.test`, clientEndpoint: `https://${memberId}.bitrix24.test/rest/`, serverEndpoint: '',
    applicationToken: 'x', accessToken: '', refreshToken: '', expiresAt: 0, scope: '', status: 'L', ratePlan: 'standard',
    lineNumber, installedAt: 0, updatedAt: 0, installed: true,
  };
}

export class MemoryPortals implements PortalsRepository {
  constructor(private readonly rows: Portal[]) {}
  get(memberId: string) { return this.rows.find((p) => p.memberId === memberId); }
  list() { return this.rows; }
  async put(p: Portal) { this.rows.push(p); }
  async update(memberId: string, patch: Partial<Portal>) {
    const p = this.get(memberId);
    if (!p) throw new Error('no portal');
    Object.assign(p, patch);
    return p;
  }
  async remove() { /* not used */ }
}

export class FakeContacts implements CrmContacts {
  readonly lookups: { portal: string; e164: string; userId: number | undefined }[] = [];
  readonly synced: CrmRef[] = [];
  constructor(public answer: (e164: string) => Promise<CrmRef | null> = async () => null) {}
  async resolveCaller(portal: string, e164: string, _direction: unknown, responsibleUserId: number | undefined) {
    this.lookups.push({ portal, e164, userId: responsibleUserId });
    return this.answer(e164);
  }
  syncContactAfterCall(_portal: string, crm: CrmRef) { this.synced.push(crm); }
}

/** A PBX adapter with recordings held in memory and a scriptable dial. */
export class FakePbx implements PbxAdapter {
  readonly dials: { extension: string; number: string }[] = [];
  readonly recordings = new Map<string, Buffer>();
  downloads = 0;
  dialResult: () => Promise<{ pbxCallId: string }> = async () => ({ pbxCallId: `dial-${this.dials.length}` });
  private listeners: ((e: CallEvent) => void)[] = [];

  async connect() { /* in memory */ }
  async disconnect() { /* in memory */ }
  status(): PbxLinkStatus { return { state: 'connected' }; }
  onCallEvent(listener: (e: CallEvent) => void) { this.listeners.push(listener); return () => { this.listeners = this.listeners.filter((l) => l !== listener); }; }
  emit(e: CallEvent) { for (const l of this.listeners) l(e); }
  onStatus() { return () => undefined; }
  async testConnection() { /* ok */ }
  async listExtensions() { return []; }
  async dial(extension: string, number: string) {
    this.dials.push({ extension, number });
    return this.dialResult();
  }
  async downloadRecording(ref: CallRecordingRef): Promise<RecordingDownload> {
    this.downloads += 1;
    const data = this.recordings.get(ref.ref);
    if (!data) throw new Error('RECORDING_NOT_FOUND: no such recording');
    const stream = new PassThrough();
    stream.end(data);
    return { stream, contentType: 'audio/wav', filename: ref.filename, size: data.length };
  }
  async searchCdr() { return []; }
  async listPhonebooks() { return []; }
  async createPhonebook(name: string) { return { id: '1', name, contactCount: 0 }; }
  async upsertContact() { return '1'; }
}

/** A tiny but valid 8 kHz mono 16-bit PCM WAV of `samples` samples. */
export function wav(samples = 800): Buffer {
  const data = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i += 1) data.writeInt16LE(Math.round(Math.sin(i / 4) * 8000), i * 2);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0); header.writeUInt32LE(36 + data.length, 4); header.write('WAVE', 8);
  header.write('fmt ', 12); header.writeUInt32LE(16, 16); header.writeUInt16LE(1, 20); header.writeUInt16LE(1, 22);
  header.writeUInt32LE(8000, 24); header.writeUInt32LE(16000, 28); header.writeUInt16LE(2, 32); header.writeUInt16LE(16, 34);
  header.write('data', 36); header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

export const flush = () => new Promise((resolve) => setImmediate(resolve));
