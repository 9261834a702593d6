import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { errorCode, isMissing } from './fs.js';

export const SECRET_KEY_FILE = 'secret.key';

/**
 * The key that seals secrets at rest: SECRET_KEY when set; else `<dataDir>/secret.key`, generated (32 random bytes,
 * hex, mode 0600) on the first start and reused after. Losing that file makes stored tokens unreadable, so it is
 * never rewritten once it exists.
 */
export async function resolveSecretKey(dataDir: string, configured: string | undefined, log: Logger): Promise<string> {
  if (configured !== undefined && configured.trim() !== '') return configured.trim();
  const file = join(dataDir, SECRET_KEY_FILE);
  const existing = await readKeyFile(file, log);
  if (existing !== undefined) return existing;

  await fsp.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32).toString('hex');
  let handle: fsp.FileHandle;
  try {
    // 'wx': two processes starting at once cannot both create a key; the loser reads the winner's.
    handle = await fsp.open(file, 'wx', 0o600);
  } catch (err) {
    if (errorCode(err) === 'EEXIST') {
      const raced = await readKeyFile(file, log);
      if (raced !== undefined) return raced;
    }
    throw new AppError('SECRET_KEY_UNAVAILABLE', `cannot create ${file}: ${err instanceof Error ? err.message : String(err)}`, 500, undefined, err);
  }
  try {
    await handle.writeFile(`${key}\n`, 'utf8');
    await handle.datasync();
  } finally {
    await handle.close();
  }
  log.info({ file }, 'generated a new secret key for secrets at rest; back it up with the data directory');
  return key;
}

async function readKeyFile(file: string, log: Logger): Promise<string | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw new AppError('SECRET_KEY_UNAVAILABLE', `cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`, 500, undefined, err);
  }
  const key = text.trim();
  if (!/^[0-9a-f]{64}$/i.test(key)) {
    throw new AppError('SECRET_KEY_INVALID', `${file} does not hold a 64-hex-digit key; restore it from a backup (stored secrets depend on it)`);
  }
  const { mode } = await fsp.stat(file);
  if ((mode & 0o077) !== 0) log.warn({ file, mode: (mode & 0o777).toString(8) }, 'the secret key file is readable by other users; chmod 600 it');
  return key;
}
