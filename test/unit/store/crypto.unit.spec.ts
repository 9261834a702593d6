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

  it('leaves an empty value (not set) as it is', () => {
    expect(box.seal('')).toBe('');
  });

  // Issue 10 point 4. Before: seal() passed through any value starting with "enc:v1:", so a PBX secret typed as
  // "enc:v1:AAAA" was stored as is and the next start failed to open it. After: every input is sealed; a value that
  // is itself a sealed string is sealed again and opens back to exactly that string.
  it('seals a value that merely looks sealed, and opens it back exactly', () => {
    const lookalike = 'enc:v1:AAAA';
    const stored = box.seal(lookalike);
    expect(stored).not.toBe(lookalike);
    expect(isSealed(stored)).toBe(true);
    expect(box.open(stored)).toBe(lookalike);
    const sealed = box.seal('x');
    const twice = box.seal(sealed);
    expect(twice).not.toBe(sealed);
    expect(box.open(twice)).toBe(sealed);
    expect(box.open(box.open(twice))).toBe('x');
  });

  it('opens a value sealed once by an earlier release (one layer), as before', () => {
    // Sealed with TEST_KEY by the release before unconditional sealing (server/crypto.ts at a44325f): one layer.
    const earlier = 'enc:v1:PRXifwsKn0rmXiBo:QUadcGzj9-LaFBd63wvEjw:oEgSOoXT4QVGbyrKgxwzmnpP8LR8M-9vplhu3g';
    expect(box.open(earlier)).toBe('refresh-from-earlier-release');
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
