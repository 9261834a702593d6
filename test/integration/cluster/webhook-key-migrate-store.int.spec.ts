import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecretBox } from '../../../server/crypto.js';
import { createPool } from '../../../server/store/postgres/db.js';
import { createPgWebhookKey } from '../../../server/store/postgres/server-keys.js';
import { postgresForThisFile } from '../../support/postgres-for-file.js';
import { runMigrateStore, type ScriptRun } from '../../support/migrate-store-script.js';

/**
 * npm run migrate-store carries DATA_DIR/webhook.key into the database (issue 14): an operator moving to PostgreSQL
 * keeps the webhook URLs the PBXs were given. A database already holding another key is a conflict (--force wins).
 */

const SECRET_KEY = 'a'.repeat(64);
const FILE_KEY = 'K'.repeat(43);
const pg = postgresForThisFile();
let dataDir: string;

function migrateStore(env: Record<string, string>, args: string[] = []): Promise<ScriptRun> {
  return runMigrateStore({ SECRET_KEY, DATA_DIR: dataDir, ...env }, args);
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'migrate-key-'));
  await writeFile(join(dataDir, 'webhook.key'), `${FILE_KEY}\n`);
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('migrate-store and the webhook key', () => {
  it('copies it sealed, leaves it on a re-run, refuses another key in the database unless --force', async () => {
    const url = await pg.createDatabase();
    const pool = createPool(url);
    try {
      const keys = createPgWebhookKey(pool, createSecretBox(SECRET_KEY), 'test');
      const first = await migrateStore({ DATABASE_URL: url });
      expect(first.code, first.err).toBe(0);
      expect(first.out).toContain('webhook key: copied');
      expect(await keys.read()).toBe(FILE_KEY);
      const again = await migrateStore({ DATABASE_URL: url });
      expect(again.out).toContain('webhook key: unchanged');

      await keys.replace('L'.repeat(43));
      const refused = await migrateStore({ DATABASE_URL: url });
      expect(refused.code).toBe(1);
      expect(refused.err).toContain('another webhook key');
      expect(await keys.read()).toBe('L'.repeat(43));
      const forced = await migrateStore({ DATABASE_URL: url }, ['--force']);
      expect(forced.code, forced.err).toBe(0);
      expect(forced.out).toContain('webhook key: overwritten');
      expect(await keys.read()).toBe(FILE_KEY);
    } finally {
      await pool.end();
    }
  }, 120_000);
});
