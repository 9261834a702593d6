/**
 * Schema versions and the migrations runner. Every document carries `schemaVersion` in its envelope and every
 * journal a header line `{ "journal": kind, "schemaVersion": n, "portal": … }`. Data older than CURRENT is
 * walked forward one step at a time at load; the store then writes it back in the current shape.
 *
 * v0 is the shape before versioning: a document was the bare data object (no envelope), a journal had no
 * header line and its records could lack fields added since. v0 → v1 wraps/labels them and fills the defaults.
 */
export const CURRENT_SCHEMA_VERSION = 1;

export type DocumentKind = 'portals' | 'settings' | 'bindings' | 'contact-sync' | 'missed-call-tasks';
export type JournalKind = 'calls' | 'outbox';

type Step = (value: Record<string, unknown>) => Record<string, unknown>;

/** documentSteps[kind][v] turns a version-v document's data into version v+1. */
const documentSteps: Record<DocumentKind, Step[]> = {
  portals: [(data) => data],
  settings: [(data) => data],
  bindings: [(data) => data],
  'contact-sync': [(data) => data],
  'missed-call-tasks': [(data) => data],
};

/** recordSteps[kind][v] turns one version-v journal record into version v+1. */
const recordSteps: Record<JournalKind, Step[]> = {
  calls: [
    (rec) => ({
      shownTo: [],
      extensions: [],
      talkSeconds: 0,
      origin: 'pbx',
      recordingState: 'none',
      ...rec,
    }),
  ],
  outbox: [
    (rec) => ({
      attempts: 0,
      nextAttemptAt: 0,
      params: {},
      ...rec,
      status: rec.status ?? 'pending',
    }),
  ],
};

export class MigrationError extends Error {
  readonly code = 'STORE_SCHEMA_UNSUPPORTED';
}

function run(steps: Step[], from: number, value: Record<string, unknown>, what: string): Record<string, unknown> {
  if (!Number.isInteger(from) || from < 0) throw new MigrationError(`${what}: schema version ${String(from)} is not a version`);
  if (from > CURRENT_SCHEMA_VERSION) {
    throw new MigrationError(
      `${what} has schema version ${from}, newer than this build understands (${CURRENT_SCHEMA_VERSION}); run a newer release`,
    );
  }
  let current = value;
  for (let v = from; v < CURRENT_SCHEMA_VERSION; v += 1) {
    const step = steps[v];
    if (!step) throw new MigrationError(`${what}: no migration from schema version ${v}`);
    current = step(current);
  }
  return current;
}

export function migrateDocument(kind: DocumentKind, from: number, data: Record<string, unknown>, file: string): Record<string, unknown> {
  return run(documentSteps[kind], from, data, file);
}

export function migrateRecord(kind: JournalKind, from: number, record: Record<string, unknown>, file: string): Record<string, unknown> {
  return run(recordSteps[kind], from, record, file);
}
