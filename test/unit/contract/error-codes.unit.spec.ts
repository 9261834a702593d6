/**
 * Issue 12 point 3: the client knew codes the server never sends and missed PORTAL_NEEDS_REINSTALL, PBX_NOT_CONNECTED
 * and PBX_ADDRESS_REFUSED. Now one list (contract/error-codes.ts) is shared: these tests hold that every code the
 * server can send is listed, and that every listed code has a message in en, ru and zh.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, isErrorCode } from '../../../contract/error-codes.js';
import { KEY_BY_CODE, keyForCode } from '../../../client/errors.js';
import en from '../../../client/i18n/en.json';
import ru from '../../../client/i18n/ru.json';
import zh from '../../../client/i18n/zh.json';

const root = join(import.meta.dirname, '../../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Codes written as literals where an error is made or answered: `new AppError('X'`, `error: 'X'`, `code: 'X'`. */
function codesInServerSource(): Set<string> {
  const found = new Set<string>();
  const patterns = [/new (?:AppError|PbxError)\(\s*'([A-Z0-9_]+)'/g, /\berror: '([A-Z0-9_]+)'/g, /\bcode: '((?:PBX|SECRET|PORTAL)_[A-Z0-9_]+)'/g];
  for (const file of sourceFiles(join(root, 'server'))) {
    const text = readFileSync(file, 'utf8');
    for (const pattern of patterns) for (const match of text.matchAll(pattern)) if (match[1]) found.add(match[1]);
  }
  return found;
}

function lookup(messages: unknown, key: string): unknown {
  return key.split('.').reduce<unknown>((node, part) => (typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[part] : undefined), messages);
}

describe('contract/error-codes.ts: one list of the codes the server sends', () => {
  it('lists every code written in server/ (and the three the client used to miss)', () => {
    const missing = [...codesInServerSource()].filter((code) => !isErrorCode(code));
    expect(missing).toEqual([]);
    for (const code of ['PORTAL_NEEDS_REINSTALL', 'PBX_NOT_CONNECTED', 'PBX_ADDRESS_REFUSED']) expect(isErrorCode(code)).toBe(true);
  });

  it('drops the codes the client mapped but the server never sends', () => {
    for (const code of ['VALIDATION_FAILED', 'NOT_ADMIN', 'NEEDS_REINSTALL', 'PBX_NOT_CONFIGURED', 'RATE_LIMITED']) {
      expect(isErrorCode(code)).toBe(false);
      expect(Object.hasOwn(KEY_BY_CODE, code)).toBe(false);
    }
  });

  it.each([['en', en], ['ru', ru], ['zh', zh]] as const)('has a message in %s for every code', (_lang, messages) => {
    const untranslated = ERROR_CODES.filter((code) => typeof lookup(messages, KEY_BY_CODE[code]) !== 'string');
    expect(untranslated).toEqual([]);
    expect(typeof lookup(messages, keyForCode('BITRIX_SOMETHING_NEW'))).toBe('string');
  });

  it('never shows a code or the PBX raw words as the message', () => {
    for (const code of ERROR_CODES) {
      const text = String(lookup(en, KEY_BY_CODE[code]));
      expect(text).not.toMatch(/[A-Z]{3,}_[A-Z]+|\[PBX said/);
    }
  });
});
