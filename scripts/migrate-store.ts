/**
 * npm run migrate-store -- --from file --to postgres [--force]
 *
 * Copies the file store in DATA_DIR into the PostgreSQL database DATABASE_URL names (server/store/postgres/
 * copy-store.ts): every portal's record, secrets, settings, bindings, calls, outbox items, contact sync, missed-call
 * tasks and PBX link marks. Stop the server first (DATA_DIR is locked while it runs, and this script takes the lock).
 * Re-running is harmless: what the database already holds unchanged is skipped. When the database holds other
 * content for a record, nothing is written and the conflicts are listed, unless --force (the file's version wins).
 * SECRET_KEY (or DATA_DIR/secret.key) must be the key the file store was written with; the database's secrets are
 * sealed with the same key, so the server on PostgreSQL needs that same SECRET_KEY.
 * The webhook key (DATA_DIR/webhook.key) is carried too, so the webhook URLs the PBXs were given stay valid: a
 * database holding another webhook key is a conflict like the others (--force: the file's key wins).
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../server/config.js';
import { createLogger } from '../server/log.js';
import { createLinkStateFile } from '../server/pbx/link-state.js';
import { lockDataDir, openFileStore, resolveSecretKey } from '../server/store/index.js';
import { copyStore } from '../server/store/postgres/copy-store.js';
import { openPostgresStore } from '../server/store/postgres/index.js';
import type { SharedWebhookKey } from '../server/store/types.js';
import { readWebhookKeyFile } from '../server/store/webhook-key.js';

/** What carrying DATA_DIR's webhook key does: nothing to carry, copy it, it is there already, or another key is. */
type KeyPlan = { kind: 'none' | 'unchanged' } | { kind: 'copy' | 'conflict'; key: string };

async function planWebhookKey(dataDir: string, legacyKey: string | undefined, shared: SharedWebhookKey): Promise<KeyPlan> {
  const file = await readWebhookKeyFile(dataDir, legacyKey);
  if (!file.ok) return { kind: 'none' };
  const stored = await shared.read().catch(() => null);
  if (stored === file.key) return { kind: 'unchanged' };
  return stored === undefined ? { kind: 'copy', key: file.key } : { kind: 'conflict', key: file.key };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { from: { type: 'string' }, to: { type: 'string' }, force: { type: 'boolean', default: false } },
    strict: true,
  });
  if (values.from !== 'file' || values.to !== 'postgres') {
    console.error('usage: npm run migrate-store -- --from file --to postgres [--force]   (only this direction exists)');
    return 2;
  }
  const config = loadConfig();
  if (config.databaseUrl === undefined) {
    console.error('DATABASE_URL is not set: it names the PostgreSQL database to copy into (postgres://user:password@host:port/db)');
    return 2;
  }
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel);
  const lock = await lockDataDir(config.dataDir, log);
  try {
    const secretKey = await resolveSecretKey(config.dataDir, config.secretKey, log);
    const source = await openFileStore({ dataDir: config.dataDir, secretKey, log });
    const fenced = source.fences.portals();
    if (fenced.length > 0 && !values.force) {
      console.error(`refused: ${fenced.length} portal(s) have unreadable data in DATA_DIR (${fenced.join(', ')}); repair them first, or --force to copy what is readable`);
      await source.close();
      return 1;
    }
    const target = await openPostgresStore({ databaseUrl: config.databaseUrl, secretKey, log });
    try {
      const sourceMarks = createLinkStateFile(join(config.dataDir, 'pbx-links.json'), { log });
      await sourceMarks.load();
      if (!target.linkMarks) throw new Error('the PostgreSQL store keeps no link marks');
      await target.linkMarks.load();
      const sharedKey = target.database?.webhookKey;
      if (!sharedKey) throw new Error('the PostgreSQL store keeps no webhook key');
      const keyPlan = await planWebhookKey(config.dataDir, sourceMarks.legacyWebhookKey(), sharedKey);
      if (keyPlan.kind === 'conflict' && !values.force) {
        console.error('refused: nothing was written. The database holds another webhook key than DATA_DIR/webhook.key (its webhook URLs differ); '
          + 're-run with --force to make the file\'s key the database\'s (the URLs given from this DATA_DIR stay valid, others change).');
        return 1;
      }
      const counts = await copyStore({ source, target, sourceMarks, targetMarks: target.linkMarks, force: values.force, log });
      const line = (name: string, by: Record<string, number>): string => `${name}: ${Object.entries(by).map(([k, n]) => `${k} ${n}`).join(', ')}`;
      console.log(`portals: ${counts.portals}`);
      console.log(line('copied', counts.copied));
      console.log(line('unchanged', counts.unchanged));
      if (counts.conflicts.length > 0) {
        console.log(`conflicts: ${counts.conflicts.length} (the database holds other content for these records)`);
        for (const label of counts.conflicts.slice(0, 50)) console.log(`  ${label}`);
        if (!values.force) {
          console.error('refused: nothing was written. Re-run with --force to overwrite them with the file store\'s version.');
          return 1;
        }
        console.log('--force: overwritten with the file store\'s version');
      }
      if (keyPlan.kind === 'copy') await sharedKey.offer(keyPlan.key);
      if (keyPlan.kind === 'conflict') await sharedKey.replace(keyPlan.key);
      console.log(`webhook key: ${{ none: 'none in DATA_DIR', unchanged: 'unchanged', copy: 'copied', conflict: 'overwritten (--force)' }[keyPlan.kind]}`);
      console.log('done. Start the server with DATABASE_URL (and the same SECRET_KEY); keep DATA_DIR as the backup, and do not start a server on it again.');
      return 0;
    } finally {
      await target.close();
      await source.close();
    }
  } finally {
    await lock.release();
  }
}

main().then((code) => {
  process.exitCode = code;
}, (err: unknown) => {
  console.error(`migrate-store failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
