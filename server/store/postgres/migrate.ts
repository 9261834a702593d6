import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pool } from 'pg';
import { AppError } from '../../errors.js';
import type { Logger } from '../../log.js';

/** The folder of plain versioned SQL files: NNN_name.sql, applied in order, each once. */
export const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

/**
 * Any constant both starting instances agree on: pg_advisory_xact_lock(key) makes the second wait until the first
 * has committed every migration, then it sees them applied and does nothing.
 */
const MIGRATION_LOCK_KEY = 0x70627832; // "pbx2"

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export async function readMigrations(dir: string = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = /^(\d+)_([\w-]+)\.sql$/.exec(file);
    if (!match?.[1] || !match[2]) throw new AppError('MIGRATION_INVALID', `migration file ${file} is not named NNN_name.sql`, 500);
    migrations.push({ version: Number(match[1]), name: match[2], sql: await readFile(join(dir, file), 'utf8') });
  }
  return migrations;
}

/**
 * Applies the migrations not yet recorded in schema_migrations, all in one transaction under an advisory lock:
 * a failure leaves the schema as it was, and two instances starting together never both apply one.
 * A database already at a newer version than this release knows is refused (an old release must not write to it).
 * Returns the schema version the database is at.
 */
export async function migrate(pool: Pool, log: Logger, dir?: string): Promise<number> {
  const migrations = await readMigrations(dir);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const applied = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    const newest = Math.max(0, ...applied);
    const known = Math.max(0, ...migrations.map((m) => m.version));
    if (newest > known) {
      throw new AppError('STORE_SCHEMA_NEWER', `the database schema is at version ${newest}, newer than this release knows (${known}): run the newer release`, 500);
    }
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      log.info({ version: m.version, name: m.name }, 'database migration applied');
    }
    await client.query('COMMIT');
    return known;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** The version the database is at (0: none applied), for /healthz. */
export async function schemaVersion(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ version: number | null }>('SELECT max(version) AS version FROM schema_migrations');
  return rows[0]?.version ?? 0;
}
