import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from '../log.js';
import { replaceFile } from './document.js';
import { nodeFs } from './fs.js';

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
 */
export type WebhookKeyResult = { ok: true; key: string } | { ok: false; reason: string };

const VALID = /^[A-Za-z0-9_-]{32,}$/;

export interface WebhookKeyOptions {
  /** The key found in an older pbx-links.json (migration). */
  legacyKey?: string;
  /** How many portals are set up for webhook mode: a new key is made only when none is. */
  webhookPortals: number;
  log: Logger;
}

export async function loadWebhookKey(dataDir: string, opts: WebhookKeyOptions): Promise<WebhookKeyResult> {
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
  const reason = damaged
    ? `The server's webhook key file (DATA_DIR/${WEBHOOK_KEY_FILE}) and its .bak are damaged (${primary.reason}).`
    : `The server's webhook key file (DATA_DIR/${WEBHOOK_KEY_FILE}) is missing while ${opts.webhookPortals} portal(s) use PBX webhooks.`;
  opts.log.error({ file, webhookPortals: opts.webhookPortals },
    `WEBHOOK_KEY_UNAVAILABLE: ${reason} A new key would change every webhook URL, so none is made up: portals in webhook mode are ` +
    `fenced off until the operator restores ${file} from a backup (or, if there is none, writes a new key with ` +
    '`openssl rand -hex 32 > webhook.key` and gives each webhook portal its new URL) and restarts the server.');
  return { ok: false, reason };
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
