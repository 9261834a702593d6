import type { Pool } from 'pg';
import type { SecretBox } from '../../crypto.js';
import type { SharedWebhookKey } from '../types.js';

const WEBHOOK = 'webhook';

/**
 * The webhook key in the `server_keys` table (migration 004), sealed with the store's secret box. `offer` is
 * race-free across instances starting together: INSERT ... ON CONFLICT DO NOTHING, then the row is read back, so
 * each of them ends up with the one key that was stored first.
 */
export function createPgWebhookKey(pool: Pick<Pool, 'query'>, box: SecretBox, instanceId: string): SharedWebhookKey {
  const read = async (): Promise<string | undefined> => {
    const { rows } = await pool.query<{ sealed: string }>('SELECT sealed FROM server_keys WHERE name = $1', [WEBHOOK]);
    const sealed = rows[0]?.sealed;
    // A value that does not open throws (SECRET_KEY_MISMATCH / SECRET_UNREADABLE): the caller must not make up another.
    return sealed === undefined ? undefined : box.open(sealed);
  };
  return {
    read,
    async offer(key) {
      await pool.query(
        'INSERT INTO server_keys (name, sealed, created_by) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING',
        [WEBHOOK, box.seal(key), instanceId]);
      const stored = await read();
      if (stored === undefined) throw new Error('the webhook key just stored in server_keys is not there');
      return stored;
    },
    async replace(key) {
      await pool.query(
        `INSERT INTO server_keys (name, sealed, created_by) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET sealed = EXCLUDED.sealed, created_by = EXCLUDED.created_by, created_at = now()`,
        [WEBHOOK, box.seal(key), instanceId]);
    },
  };
}
