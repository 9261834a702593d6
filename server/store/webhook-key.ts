import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from '../log.js';
import { replaceFile } from './document.js';
import { nodeFs } from './fs.js';
import type { SharedWebhookKey } from './types.js';

export const WEBHOOK_KEY_FILE = 'webhook.key';

/**
 * The server-side key that derives every portal's unguessable PBX webhook path (pbx/webhook-routing.ts `keyOf`).
 * Kept like secret.key: its own file under DATA_DIR, mode 0600, written durably (temp file, fdatasync, rename, fsync
 * of the directory) with a `.bak` copy. It used to live inside pbx-links.json, whose damage silently made a new key
 * and so changed every webhook URL at once; it is moved out of there (same key, so the URLs stay the same).
 *
 * It is NEVER made up while someone depends on it: if the file and its .bak are missing or unreadable and a portal
 * is set up for webhooks, the answer is `unavailable`, the supervisor fences those portals (their PBX link does not
 * run; the status says why) and every other portal is served. Stopping the whole server instead would take every
 * tenant down for a file only the webhook tenants need. A new key is made only when no portal uses webhooks.
 *
 * With PostgreSQL (`shared`) the key lives in the database, one for every instance (several instances must give a
 * portal the same URL): the stored key is used; when none is stored yet, this DATA_DIR's key (webhook.key, its .bak,
 * or the legacy one) is carried into the database, so the URLs stay what they were on the file store; a new key is
 * made only when there is none anywhere and no portal uses webhooks. No file is written then: DATA_DIR is the
 * instance's own, the database is what the instances share.
 */
export type WebhookKeyResult = { ok: true; key: string } | { ok: false; reason: string };

const VALID = /^[A-Za-z0-9_-]{32,}$/;

export interface WebhookKeyOptions {
  /** The key found in an older pbx-links.json (migration). */
  legacyKey?: string;
  /** How many portals are set up for webhook mode: a new key is made only when none is. */
  webhookPortals: number;
  log: Logger;
  /** The key kept in the database (PostgreSQL store); absent: the file store's DATA_DIR/webhook.key. */
  shared?: SharedWebhookKey;
}

export async function loadWebhookKey(dataDir: string, opts: WebhookKeyOptions): Promise<WebhookKeyResult> {
  if (opts.shared) return loadSharedWebhookKey(dataDir, opts.shared, opts);
  const file = join(dataDir, WEBHOOK_KEY_FILE);
  const primary = await readKey(file);
  const backup = await readKey(`${file}.bak`);
  if (primary.ok) {
    if (!backup.ok) await writeCopy(`${file}.bak`, primary.key, opts.log);
    return primary;
  }
  if (backup.ok) {
    opts.log.error({ file, reason: primary.reason }, `${file} is ${primary.reason}; using its copy ${file}.bak and restoring the file from it`);
    await writeCopy(file, backup.key, opts.log);
    return backup;
  }
  const damaged = !primary.missing || !backup.missing;
  if (!damaged && opts.legacyKey !== undefined && VALID.test(opts.legacyKey)) {
    await writeKey(file, opts.legacyKey);
    opts.log.info({ file }, 'the webhook key moved out of pbx-links.json into its own file; webhook URLs are unchanged');
    return { ok: true, key: opts.legacyKey };
  }
  if (!damaged && opts.webhookPortals === 0) {
    const key = randomBytes(32).toString('base64url');
    await writeKey(file, key);
    opts.log.info({ file }, 'generated the webhook key (no portal uses webhooks yet); back it up with the data directory');
    return { ok: true, key };
  }
  return unavailable(file, damaged ? primary.reason : undefined, opts);
}

function unavailable(file: string, damage: string | undefined, opts: WebhookKeyOptions): WebhookKeyResult {
  const reason = damage !== undefined
    ? `The server's webhook key file (DATA_DIR/${WEBHOOK_KEY_FILE}) and its .bak are damaged (${damage}).`
    : `The server's webhook key file (DATA_DIR/${WEBHOOK_KEY_FILE}) is missing while ${opts.webhookPortals} portal(s) use PBX webhooks.`;
  opts.log.error({ file, webhookPortals: opts.webhookPortals },
    `WEBHOOK_KEY_UNAVAILABLE: ${reason} A new key would change every webhook URL, so none is made up: portals in webhook mode are ` +
    `fenced off until the operator restores ${file} from a backup (or, if there is none, writes a new key with ` +
    '`openssl rand -hex 32 > webhook.key` and gives each webhook portal its new URL) and restarts the server.');
  return { ok: false, reason };
}

/** This DATA_DIR's key, read only: webhook.key, else its .bak, else the legacy key (npm run migrate-store reads it too). */
export async function readWebhookKeyFile(dataDir: string, legacyKey?: string): Promise<{ ok: true; key: string } | { ok: false; damaged: boolean; reason: string }> {
  const file = join(dataDir, WEBHOOK_KEY_FILE);
  const primary = await readKey(file);
  if (primary.ok) return primary;
  const backup = await readKey(`${file}.bak`);
  if (backup.ok) return backup;
  const damaged = !primary.missing || !backup.missing;
  if (!damaged && legacyKey !== undefined && VALID.test(legacyKey)) return { ok: true, key: legacyKey };
  return { ok: false, damaged, reason: primary.reason };
}

async function loadSharedWebhookKey(dataDir: string, shared: SharedWebhookKey, opts: WebhookKeyOptions): Promise<WebhookKeyResult> {
  const file = join(dataDir, WEBHOOK_KEY_FILE);
  let stored: string | undefined;
  try {
    stored = await shared.read();
  } catch (err) {
    const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : 'SECRET_UNREADABLE';
    const reason = `The server's webhook key in the database (table server_keys) does not open with this SECRET_KEY (${code}).`;
    opts.log.error({ code, webhookPortals: opts.webhookPortals },
      `WEBHOOK_KEY_UNAVAILABLE: ${reason} Start every instance with the SECRET_KEY the others use; portals in webhook mode are fenced off meanwhile.`);
    return { ok: false, reason };
  }
  const local = await readWebhookKeyFile(dataDir, opts.legacyKey);
  if (stored !== undefined) {
    if (local.ok && local.key !== stored) {
      opts.log.warn({ file }, `${file} differs from the webhook key in the database: the database's is used (the same for every instance); ` +
        'webhook URLs given out from this DATA_DIR earlier have changed');
    }
    return { ok: true, key: stored };
  }
  let candidate: string;
  if (local.ok) {
    candidate = local.key;
  } else if (!local.damaged && opts.webhookPortals === 0) {
    candidate = randomBytes(32).toString('base64url');
  } else {
    return unavailable(file, local.damaged ? local.reason : undefined, opts);
  }
  const key = await shared.offer(candidate);
  if (key !== candidate) opts.log.info('another instance stored the webhook key in the database first: using it');
  else if (local.ok) opts.log.info({ file }, 'the webhook key moved from DATA_DIR into the database (one for every instance); webhook URLs are unchanged');
  else opts.log.info('generated the webhook key in the database (no portal uses webhooks yet); every instance uses it');
  return { ok: true, key };
}

type ReadResult = { ok: true; key: string } | { ok: false; missing: boolean; reason: string };

async function readKey(file: string): Promise<ReadResult> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : 'EIO';
    return code === 'ENOENT' ? { ok: false, missing: true, reason: 'missing' } : { ok: false, missing: false, reason: `unreadable (${code})` };
  }
  const key = text.trim();
  if (!VALID.test(key)) return { ok: false, missing: false, reason: 'not a key (damaged)' };
  return { ok: true, key };
}

/** The key file and its .bak, both durable before the key is used (a URL handed out must survive a power cut). */
async function writeKey(file: string, key: string): Promise<void> {
  await fsp.mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await replaceFile(nodeFs, file, `${key}\n`, false);
  await replaceFile(nodeFs, `${file}.bak`, `${key}\n`, false);
}

async function writeCopy(file: string, key: string, log: Logger): Promise<void> {
  await replaceFile(nodeFs, file, `${key}\n`, false).catch((err: unknown) => {
    log.warn({ file, err }, 'could not write a copy of the webhook key');
  });
}
