import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { AppError } from './errors.js';

/**
 * Secrets at rest (OAuth tokens, webhook URLs, PBX client secrets) are sealed with AES-256-GCM.
 * Format: `enc:v1:<iv>:<tag>:<ciphertext>` (base64url parts). GCM authenticates the data, so a wrong key or a
 * tampered value fails loudly instead of yielding garbage. A fresh 96-bit IV per value (NIST SP 800-38D §8.2.2).
 */
export const SEALED_PREFIX = 'enc:v1:';

const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Fixed salt: the key only has to be stretched when an operator chose a passphrase instead of 32 random bytes. */
const PASSPHRASE_SALT = 'pbx-bitrix24-connector/secret-key/v1';

export interface SecretBox {
  seal(plain: string): string;
  open(stored: string): string;
}

/** 64 hex chars (what resolveSecretKey generates) are used as the key itself; any other string is stretched with scrypt. */
export function deriveKey(secretKey: string): Buffer {
  const trimmed = secretKey.trim();
  if (trimmed.length === 0) throw new AppError('SECRET_KEY_INVALID', 'the secret key is empty');
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  return scryptSync(trimmed, PASSPHRASE_SALT, 32);
}

export function isSealed(value: string): boolean {
  return value.startsWith(SEALED_PREFIX);
}

export function createSecretBox(secretKey: string): SecretBox {
  const key = deriveKey(secretKey);
  return {
    seal(plain: string): string {
      // Empty means "not set" (e.g. no OAuth token for a webhook-only portal); there is nothing to hide.
      // Anything else is sealed, even a value that looks sealed already: a PBX secret typed as "enc:v1:xyz" is an
      // input like any other. Passing it through stored it as is, and the next start failed to open it for every
      // tenant (issue 10 point 4). Sealing twice is correct: open() peels exactly the one layer seal() added.
      if (plain === '') return plain;
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      const tag = cipher.getAuthTag();
      return `${SEALED_PREFIX}${iv.toString('base64url')}:${tag.toString('base64url')}:${body.toString('base64url')}`;
    },
    open(stored: string): string {
      // A value written before encryption existed (schema v0) is read as it is and sealed on its next write.
      // Since seal() became unconditional every value written starts with the prefix, so this is the only way a
      // bare value is read; values sealed by earlier releases (one layer) open exactly as before.
      if (!isSealed(stored)) return stored;
      const parts = stored.slice(SEALED_PREFIX.length).split(':');
      const [ivText, tagText, bodyText] = parts;
      if (parts.length !== 3 || ivText === undefined || tagText === undefined || bodyText === undefined) {
        throw new AppError('SECRET_UNREADABLE', 'a stored secret is malformed');
      }
      const iv = Buffer.from(ivText, 'base64url');
      const tag = Buffer.from(tagText, 'base64url');
      if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
        throw new AppError('SECRET_UNREADABLE', 'a stored secret is malformed');
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, iv);
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(Buffer.from(bodyText, 'base64url')), decipher.final()]).toString('utf8');
      } catch (cause) {
        throw new AppError(
          'SECRET_KEY_MISMATCH',
          'a stored secret cannot be decrypted: SECRET_KEY (or DATA_DIR/secret.key) is not the key it was written with',
          500, undefined, cause,
        );
      }
    },
  };
}
