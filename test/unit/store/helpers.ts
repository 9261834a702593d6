import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach } from 'vitest';
import { createLogger, type Logger } from '../../../server/log.js';
import { nodeFs, type StoreFs, type WritableHandle } from '../../../server/store/fs.js';
import type { CallRecord, Portal } from '../../../server/store/records.js';

export const TEST_KEY = 'a'.repeat(64);

/** A logger whose lines the test can read. */
export function captureLog(): { log: Logger; lines: string[]; messages: () => string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  const log = createLogger('debug', sink);
  const messages = (): string[] => lines.map((l) => String((JSON.parse(l) as { msg?: unknown }).msg));
  return { log, lines, messages };
}

export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'store-test-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A fresh empty directory for each test of the calling file, removed after it; call the returned function for its path. */
export function tempDirForEachTest(): () => string {
  let current: { dir: string; cleanup: () => Promise<void> } | undefined;
  beforeEach(async () => {
    current = await tempDir();
  });
  afterEach(async () => {
    await current?.cleanup();
    current = undefined;
  });
  return () => {
    if (current === undefined) throw new Error('the temporary directory is used outside a test');
    return current.dir;
  };
}

/** A real filesystem that counts syncs and can be told to fail writes the way a full disk does (after a partial write). */
export function faultyFs(): StoreFs & { syncs: number; failWrites: boolean; failTruncates: boolean } {
  const state = { syncs: 0, failWrites: false, failTruncates: false };
  const wrap = (handle: WritableHandle): WritableHandle => ({
    write: async (buffer) => {
      if (state.failWrites) {
        // Half the bytes reach the disk, then ENOSPC: the worst case for a journal.
        await handle.write(buffer.subarray(0, Math.floor(buffer.length / 2)));
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      }
      return handle.write(buffer);
    },
    datasync: async () => {
      state.syncs += 1;
      await handle.datasync();
    },
    truncate: async (length) => {
      if (state.failTruncates) throw Object.assign(new Error('EIO: i/o error, ftruncate'), { code: 'EIO' });
      await handle.truncate(length);
    },
    close: () => handle.close(),
  });
  const fs: StoreFs & { syncs: number; failWrites: boolean; failTruncates: boolean } = {
    ...nodeFs,
    open: async (path, flags) => wrap(await nodeFs.open(path, flags)),
    get syncs() {
      return state.syncs;
    },
    set syncs(v: number) {
      state.syncs = v;
    },
    get failWrites() {
      return state.failWrites;
    },
    set failWrites(v: boolean) {
      state.failWrites = v;
    },
    get failTruncates() {
      return state.failTruncates;
    },
    set failTruncates(v: boolean) {
      state.failTruncates = v;
    },
  };
  return fs;
}

export function makePortal(memberId: string, overrides: Partial<Portal> = {}): Portal {
  return {
    memberId,
    domain: `${memberId}.bitrix24.com`,
    clientEndpoint: `https://${memberId}.bitrix24.com/rest/`,
    serverEndpoint: 'https://oauth.bitrix.info/rest/',
    applicationToken: `app-token-${memberId}-SECRET1`,
    accessToken: `access-${memberId}-SECRET2`,
    refreshToken: `refresh-${memberId}-SECRET3`,
    expiresAt: 1_700_000_000_000,
    webhookUrl: `https://${memberId}.bitrix24.com/rest/1/hook-SECRET4/`,
    scope: 'crm,telephony,user',
    status: 'L',
    ratePlan: 'standard',
    lineNumber: 'yeastar',
    installedAt: 1,
    updatedAt: 1,
    installed: true,
    ...overrides,
  };
}

export function makeCall(portal: string, pbxCallId: string, overrides: Partial<CallRecord> = {}): CallRecord {
  return {
    portal,
    pbxCallId,
    direction: 'inbound',
    external: '+15550001111',
    extensions: ['1001'],
    shownTo: [],
    startedAt: 1_000,
    talkSeconds: 0,
    origin: 'pbx',
    recordingState: 'none',
    phase: 'live',
    updatedAt: 1_000,
    ...overrides,
  };
}
