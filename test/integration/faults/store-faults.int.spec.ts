import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SettingsResponse } from '../../../contract/api-shapes.js';
import { portalDirName } from '../../../server/store/layout.js';
import { EMPTY_REPORT, expectEachLoggedOnce } from '../../support/calls.js';
import { closeStackFindingLeaks } from '../../support/secrets.js';
import { startStack, type Stack } from '../../support/stack.js';

/**
 * The disk under the product: full while it saves (a real ENOSPC from a 3 MB tmpfs the test mounts — only as root on
 * Linux; elsewhere the store's unit tests cover ENOSPC through the swappable fs of server/store/fs.ts), and a data
 * file found corrupt at start. Either way: a clear error, never a corrupt store, and the last good state kept.
 */

/** The key that seals secrets at rest: it too must never be logged. */
const SECRET_KEY = 'k'.repeat(64);
const canMount = process.platform === 'linux' && process.getuid?.() === 0;

async function fillDisk(dir: string): Promise<string> {
  const filler = join(dir, 'filler.bin');
  const chunk = Buffer.alloc(64 * 1024, 1);
  const { open } = await import('node:fs/promises');
  const handle = await open(filler, 'w');
  try {
    for (;;) await handle.write(chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  }
  // The last partial chunk: byte by byte until nothing fits.
  try {
    for (;;) await handle.write(Buffer.alloc(512, 1));
  } catch {
    // Full.
  } finally {
    await handle.close();
  }
  return filler;
}

/** Every JSON document parses and every journal line parses (a torn last line would be cut by the store at open). */
async function assertStoreParses(dataDir: string): Promise<void> {
  const files: string[] = [join(dataDir, 'portals.json')];
  for (const portal of await readdir(join(dataDir, 'portals'))) {
    for (const name of await readdir(join(dataDir, 'portals', portal))) files.push(join(dataDir, 'portals', portal, name));
  }
  for (const file of files.filter((f) => f.endsWith('.json'))) {
    expect(() => JSON.parse(readFileSyncUtf8(file)), file).not.toThrow();
  }
  for (const file of files.filter((f) => f.endsWith('.jsonl'))) {
    const lines = readFileSyncUtf8(file).split('\n').filter((l) => l !== '');
    for (const line of lines) expect(() => JSON.parse(line), `${file}: ${line.slice(0, 80)}`).not.toThrow();
  }
}

function readFileSyncUtf8(file: string): string {
  return readFileSync(file, 'utf8');
}

describe('faults: the disk', () => {
  const stacks: Stack[] = [];
  const mounts: string[] = [];

  afterAll(async () => {
    for (const stack of stacks) {
      expect(await closeStackFindingLeaks(stack, { extra: { SECRET_KEY } })).toEqual([]);
    }
    for (const dir of mounts) {
      execFileSync('umount', [dir]);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.runIf(canMount)('disk full while saving (real ENOSPC on a 3 MB tmpfs): a clear 503, the saved state unchanged, no corrupt file; after space is freed the calls of the full period are logged once and saving works again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pbxb24-enospc-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', dir]);
    mounts.push(dir);
    const stack = await startStack({ pbxSpeed: 1000, dataDir: dir, env: { SECRET_KEY } });
    stacks.push(stack);
    const tenant = await stack.addTenant();
    const settingsBefore = (await stack.api(tenant, 'admin', 'GET', '/settings')).body as SettingsResponse;
    const filler = await fillDisk(dir);

    const saved = await stack.api(tenant, 'admin', 'PUT', '/settings', { defaultCountry: 'DE' });
    expect(saved.status).toBe(503);
    expect(saved.body).toMatchObject({ error: 'STORE_WRITE_FAILED' });
    expect((saved.body as { message: string }).message).toMatch(/no space left|ENOSPC/i);
    expect((await stack.api(tenant, 'admin', 'GET', '/settings')).body).toEqual(settingsBefore);

    // A call while the disk is full: it must not be lost, only delayed.
    const { callId } = await stack.pbx.scenario('inbound-answered', { to: '1001', talkSeconds: 9, record: true, wait: true });
    await new Promise((r) => setTimeout(r, 500));
    expect((await fetch(`${stack.url()}/healthz`)).status).toBe(200);

    await rm(filler);
    await assertStoreParses(dir);
    expect(await expectEachLoggedOnce(stack.b24, tenant.memberId, [callId], 30_000)).toEqual(EMPTY_REPORT);

    // A restart over the same data: the last good state, and saving works again.
    await stack.stopServer();
    await assertStoreParses(dir);
    await stack.startServer();
    expect(((await stack.api(tenant, 'admin', 'GET', '/settings')).body as SettingsResponse).defaultCountry).toBe(settingsBefore.defaultCountry);
    expect((await stack.api(tenant, 'admin', 'PUT', '/settings', { defaultCountry: 'DE' })).status).toBe(200);
    expect(((await stack.api(tenant, 'admin', 'GET', '/settings')).body as SettingsResponse).defaultCountry).toBe('DE');
  }, 90_000);

  it('a corrupt data file at start: a clear message naming it, the previous good copy used; both copies corrupt → the server refuses to start and says what to do', async () => {
    const stack = await startStack({ pbxSpeed: 1000, env: { SECRET_KEY } });
    stacks.push(stack);
    const tenant = await stack.addTenant();
    expect((await stack.api(tenant, 'admin', 'PUT', '/settings', { defaultCountry: 'FR' })).status).toBe(200);
    expect((await stack.api(tenant, 'admin', 'PUT', '/settings', { defaultCountry: 'DE' })).status).toBe(200);
    await stack.stopServer();

    const settingsFile = join(stack.dataDir, 'portals', portalDirName(tenant.memberId), 'settings.json');
    const good = await readFile(settingsFile, 'utf8');
    await writeFile(settingsFile, good.slice(0, Math.floor(good.length / 2)));
    await stack.startServer();
    // The previous good copy is the save before the last one.
    expect(((await stack.api(tenant, 'admin', 'GET', '/settings')).body as SettingsResponse).defaultCountry).toBe('FR');
    const logs = await stack.logs();
    expect(logs).toContain(`STORE_CORRUPT: ${settingsFile} is unreadable`);
    expect(logs).toContain('using the previous good copy');
    // The unreadable file is kept aside for a post-mortem, never served again.
    const aside = (await readdir(join(stack.dataDir, 'portals', portalDirName(tenant.memberId)))).filter((n) => n.startsWith('settings.json.corrupt-'));
    expect(aside.length).toBe(1);
    // The portal (and so the app) keeps working: a call is logged as usual.
    const { callId } = await stack.pbx.scenario('inbound-answered', { to: '1001', talkSeconds: 7, record: true, wait: true });
    expect(await expectEachLoggedOnce(stack.b24, tenant.memberId, [callId], 20_000)).toEqual(EMPTY_REPORT);

    // Both the portals file and its previous copy unreadable: the server must not start on an empty store.
    await stack.stopServer();
    const portalsFile = join(stack.dataDir, 'portals.json');
    await writeFile(portalsFile, '{"schemaVersion":');
    await writeFile(`${portalsFile}.bak`, '\u0000\u0000garbage');
    const refused = await stack.startServer().then(() => null, (err: unknown) => err);
    expect(refused).toBeInstanceOf(Error);
    expect(String((refused as Error).message)).toMatch(/STORE_CORRUPT/);
    expect(String((refused as Error).message)).toContain(portalsFile);
    expect(String((refused as Error).message)).toMatch(/restore the file from a backup/);
    expect((await stat(portalsFile)).size).toBeGreaterThan(0);
  }, 90_000);
});
