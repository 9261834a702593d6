import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSecretBox } from '../../../server/crypto.js';
import { createPool } from '../../../server/store/postgres/db.js';
import { migrate } from '../../../server/store/postgres/migrate.js';
import { createPgWebhookKey } from '../../../server/store/postgres/server-keys.js';
import { loadWebhookKey } from '../../../server/store/webhook-key.js';
import { postgresForThisFile } from '../../support/postgres-for-file.js';
import { captureLog } from '../../unit/store/helpers.js';

/**
 * Issue 14: with PostgreSQL the webhook key is one sealed row for every instance (migration 004), so every instance
 * gives a portal the same webhook URL; a key already in an instance's DATA_DIR is carried into the database, so the
 * URLs the PBXs were given on the file store stay valid.
 */

const pg = postgresForThisFile();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const FILE_KEY = 'F'.repeat(43);
const OTHER_KEY = 'G'.repeat(43);
const box = createSecretBox('d'.repeat(64));

async function database(): Promise<ReturnType<typeof createPool>> {
  const pool = createPool(await pg.createDatabase());
  cleanups.push(() => pool.end());
  await migrate(pool, captureLog().log);
  return pool;
}
async function dataDir(key?: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'webhook-key-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  if (key !== undefined) await writeFile(join(dir, 'webhook.key'), `${key}\n`);
  return dir;
}

describe('the webhook key in PostgreSQL', () => {
  it('carries DATA_DIR/webhook.key into the database (sealed); another instance with another file gets the database\'s key', async () => {
    const pool = await database();
    const first = captureLog();
    const a = await loadWebhookKey(await dataDir(FILE_KEY), { webhookPortals: 1, log: first.log, shared: createPgWebhookKey(pool, box, 'a') });
    expect(a).toEqual({ ok: true, key: FILE_KEY });
    expect(first.lines.join('')).toContain('moved from DATA_DIR into the database');
    const stored = (await pool.query<{ sealed: string }>(`SELECT sealed FROM server_keys WHERE name = 'webhook'`)).rows[0]?.sealed ?? '';
    expect(stored).not.toContain(FILE_KEY);
    expect(box.open(stored)).toBe(FILE_KEY);

    const second = captureLog();
    const otherDir = await dataDir(OTHER_KEY);
    const b = await loadWebhookKey(otherDir, { webhookPortals: 1, log: second.log, shared: createPgWebhookKey(pool, box, 'b') });
    expect(b).toEqual({ ok: true, key: FILE_KEY });
    expect(second.lines.join('')).toContain('differs from the webhook key in the database');
    // The instance's own file is left as it was (DATA_DIR is not what the instances share).
    expect((await readFile(join(otherDir, 'webhook.key'), 'utf8')).trim()).toBe(OTHER_KEY);
  });

  it('instances starting together on an empty database all end up with one key', async () => {
    const pool = await database();
    const dirs = await Promise.all([dataDir(), dataDir(), dataDir(), dataDir()]);
    const keys = await Promise.all(dirs.map((dir, n) => loadWebhookKey(dir, { webhookPortals: 0, log: captureLog().log, shared: createPgWebhookKey(pool, box, `i${n}`) })));
    const distinct = new Set(keys.map((k) => (k.ok ? k.key : `refused: ${k.reason}`)));
    expect(distinct.size).toBe(1);
    expect(keys[0]?.ok).toBe(true);
  });

  it('never makes one up while a portal uses webhooks and no key is anywhere; a key sealed with another SECRET_KEY is not replaced', async () => {
    const pool = await database();
    const missing = await loadWebhookKey(await dataDir(), { webhookPortals: 2, log: captureLog().log, shared: createPgWebhookKey(pool, box, 'a') });
    expect(missing).toEqual({ ok: false, reason: expect.stringContaining('missing while 2 portal(s) use PBX webhooks') });
    expect((await pool.query(`SELECT 1 FROM server_keys`)).rowCount).toBe(0);

    await createPgWebhookKey(pool, createSecretBox('e'.repeat(64)), 'elsewhere').offer(OTHER_KEY);
    const capture = captureLog();
    const wrongKey = await loadWebhookKey(await dataDir(FILE_KEY), { webhookPortals: 2, log: capture.log, shared: createPgWebhookKey(pool, box, 'a') });
    expect(wrongKey).toEqual({ ok: false, reason: expect.stringContaining('does not open with this SECRET_KEY') });
    expect(capture.lines.join('')).not.toContain(FILE_KEY);
    expect(createSecretBox('e'.repeat(64)).open((await pool.query<{ sealed: string }>(`SELECT sealed FROM server_keys`)).rows[0]?.sealed ?? '')).toBe(OTHER_KEY);
  });
});
