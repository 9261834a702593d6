import { describe, expect, it } from 'vitest';
import { createSecretBox, isSealed } from '../../../server/crypto.js';
import { TEST_KEY } from './helpers.js';

describe('secret box (AES-256-GCM at rest)', () => {
  const box = createSecretBox(TEST_KEY);

  it('seals with the enc:v1: prefix and a fresh IV each time, and opens back', () => {
    const a = box.seal('refresh-token-123');
    const b = box.seal('refresh-token-123');
    expect(a.startsWith('enc:v1:')).toBe(true);
    expect(a).not.toBe(b);
    expect(a).not.toContain('refresh-token-123');
    expect(box.open(a)).toBe('refresh-token-123');
    expect(box.open(b)).toBe('refresh-token-123');
  });

  it('leaves empty values and already sealed values as they are', () => {
    expect(box.seal('')).toBe('');
    const sealed = box.seal('x');
    expect(box.seal(sealed)).toBe(sealed);
    expect(isSealed(sealed)).toBe(true);
  });

  it('reads a plaintext value written before encryption (v0) as it is', () => {
    expect(box.open('legacy-plain')).toBe('legacy-plain');
  });

  it('refuses a value sealed with another key, naming the key as the cause', () => {
    const other = createSecretBox('b'.repeat(64));
    expect(() => other.open(box.seal('secret'))).toThrow(/SECRET_KEY_MISMATCH/);
  });

  it('detects tampering (GCM tag)', () => {
    const sealed = box.seal('secret value');
    const parts = sealed.split(':');
    const body = Buffer.from(parts[4] ?? '', 'base64url');
    body[0] = (body[0] ?? 0) ^ 1;
    parts[4] = body.toString('base64url');
    expect(() => box.open(parts.join(':'))).toThrow(/SECRET_KEY_MISMATCH/);
    expect(() => box.open('enc:v1:garbage')).toThrow(/SECRET_UNREADABLE/);
  });

  it('stretches a passphrase key into a working AES key', () => {
    const pass = createSecretBox('correct horse battery staple');
    expect(pass.open(pass.seal('t'))).toBe('t');
  });
});
