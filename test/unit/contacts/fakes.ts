/**
 * In-memory stand-ins for the unit tests of contacts/: a tiny CRM that answers the REST methods contacts/ uses the
 * way Bitrix24 does, the store repositories contacts/ touches, and a PBX phonebook.
 */
import { pino } from 'pino';
import type { BatchCommand, BatchResult, BitrixClient, BitrixClients } from '../../../server/bitrix/types.js';
import type { Logger } from '../../../server/log.js';
import type { PbxAdapter, PbxContact, PbxPhonebook } from '../../../server/pbx/adapter.js';
import { DEFAULT_SETTINGS, type ContactSyncEntry, type PortalSettings } from '../../../server/store/records.js';
import type { ContactSyncRepository, Store } from '../../../server/store/types.js';

export const silentLog: Logger = pino({ level: 'silent' });

type Fields = Record<string, unknown>;

export interface RecordedCall {
  method: string;
  params: Record<string, unknown>;
}

const digits = (v: unknown): string => String(v).replace(/\D/g, '');

/** Bitrix24-like CRM: records per type, phones in PHONE multifields, findbycomm on digits as Bitrix24 does. */
export class FakeCrm implements BitrixClient {
  readonly memberId = 'portal-1';
  readonly calls: RecordedCall[] = [];
  readonly records: Record<'CONTACT' | 'LEAD' | 'COMPANY', Map<number, Fields>> = { CONTACT: new Map(), LEAD: new Map(), COMPANY: new Map() };
  users: Fields[] = [];
  /** Milliseconds each call takes (lets concurrent calls overlap). */
  latencyMs = 0;
  /** Makes the next calls of a method fail. */
  failing = new Set<string>();
  private nextId = 100;

  add(type: 'CONTACT' | 'LEAD' | 'COMPANY', fields: Fields): number {
    const id = this.nextId++;
    this.records[type].set(id, { ID: String(id), ...fields });
    return id;
  }

  count(method: string): number {
    return this.calls.filter((c) => c.method === method).length;
  }

  async call<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    this.calls.push({ method, params });
    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));
    if (this.failing.has(method)) throw new Error(`${method} failed`);
    return this.answer(method, params) as T;
  }

  private answer(method: string, params: Record<string, unknown>): unknown {
    const match = /^crm\.(contact|lead|company)\.(add|get)$/.exec(method);
    if (match) {
      const type = (match[1] ?? '').toUpperCase() as 'CONTACT' | 'LEAD' | 'COMPANY';
      if (match[2] === 'add') return this.add(type, params.fields as Fields);
      const record = this.records[type].get(Number(params.id));
      if (!record) throw new Error('Not found');
      return record;
    }
    if (method === 'crm.duplicate.findbycomm') {
      const wanted = new Set((params.values as string[]).map(digits));
      const out: Record<string, number[]> = {};
      for (const type of ['LEAD', 'CONTACT', 'COMPANY'] as const) {
        const ids = [...this.records[type].entries()]
          .filter(([, f]) => Array.isArray(f.PHONE) && (f.PHONE as Fields[]).some((p) => wanted.has(digits(p.VALUE))))
          .map(([id]) => id);
        if (ids.length) out[type] = ids;
      }
      return Object.keys(out).length ? out : [];
    }
    throw new Error(`unexpected method ${method}`);
  }

  async list<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T[]> {
    this.calls.push({ method, params });
    if (method !== 'user.get') throw new Error(`unexpected list ${method}`);
    return this.users as T[];
  }

  async batch(_commands: BatchCommand[]): Promise<BatchResult> {
    throw new Error('batch not used by contacts/');
  }
}

export function clientsOf(crm: FakeCrm): BitrixClients {
  return { forPortal: () => crm, requestCount: () => crm.calls.length };
}

export function settingsWith(patch: Partial<PortalSettings>): PortalSettings {
  return structuredClone({ ...DEFAULT_SETTINGS, ...patch });
}

export class MemoryContactSync implements ContactSyncRepository {
  readonly entries = new Map<string, ContactSyncEntry>();
  get(portal: string, entityType: string, entityId: number): ContactSyncEntry | undefined {
    return this.entries.get(`${portal}/${entityType}/${entityId}`);
  }
  async put(entry: ContactSyncEntry): Promise<void> {
    this.entries.set(`${entry.portal}/${entry.entityType}/${entry.entityId}`, structuredClone(entry));
  }
  list(portal: string): ContactSyncEntry[] {
    return [...this.entries.values()].filter((e) => e.portal === portal);
  }
  async clear(portal: string): Promise<void> {
    for (const [key, entry] of this.entries) if (entry.portal === portal) this.entries.delete(key);
  }
}

/** A PBX with phonebooks of company contacts; everything else refuses. */
export class FakePhonebookPbx {
  readonly phonebooks = new Map<string, PbxPhonebook>();
  readonly contacts = new Map<string, { phonebookId: string; contact: PbxContact }>();
  writes = 0;
  failNext: Error | null = null;
  private nextId = 1;

  adapter(): PbxAdapter {
    const refuse = async (): Promise<never> => { throw new Error('not used'); };
    return {
      connect: refuse, disconnect: refuse, testConnection: refuse, dial: refuse, downloadRecording: refuse, searchCdr: refuse,
      status: () => ({ state: 'connected' }),
      onCallEvent: () => () => undefined,
      onStatus: () => () => undefined,
      listExtensions: async () => [],
      listPhonebooks: async () => [...this.phonebooks.values()].map((p) => ({
        ...p, contactCount: [...this.contacts.values()].filter((c) => c.phonebookId === p.id).length,
      })),
      createPhonebook: async (name) => {
        const book = { id: String(this.nextId++), name, contactCount: 0 };
        this.phonebooks.set(book.id, book);
        return book;
      },
      upsertContact: async (phonebookId, contact, existingId) => {
        this.writes++;
        if (this.failNext) {
          const error = this.failNext;
          this.failNext = null;
          throw error;
        }
        const id = existingId ?? `c${this.nextId++}`;
        this.contacts.set(id, { phonebookId, contact: structuredClone(contact) });
        return id;
      },
      contactExists: async (id) => this.contacts.has(id),
      deleteContact: async (id) => {
        this.contacts.delete(id);
      },
    };
  }
}

/** A store holding only the portal's settings and contact-sync marks; any other repository throws when a test touches it. */
export function storeWith(settings: PortalSettings): Store {
  const unused = new Proxy({}, { get: () => { throw new Error('not used'); } }) as never;
  return {
    settings: { get: () => settings, put: async () => undefined, clear: async () => undefined },
    contactSync: new MemoryContactSync(),
    portals: unused, bindings: unused, calls: unused, outbox: unused, fences: unused, missedCallTasks: unused,
    repairPortal: unused,
    removePortal: async () => undefined,
    close: async () => undefined,
  };
}
