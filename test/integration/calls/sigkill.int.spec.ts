import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../server/log.js';
import { openStore } from '../../../server/store/index.js';
import { DEFAULT_SETTINGS } from '../../../server/store/records.js';
import { startBitrix24Emulator, type Bitrix24Emulator, type CallView, type PortalInfo } from '../../emulators/bitrix24/harness.js';
import { startYeastarEmulator, type YeastarEmulator } from '../../emulators/yeastar/harness.js';
import { eventually, freePort, tempDataDir } from '../foundation/server-under-test.js';

/**
 * The server SIGKILLed in the middle of a call and started again on the same data: the call that was ringing and
 * talking when it died, and that ended while it was down, is logged exactly once, with its recording.
 */

describe('calls survive a SIGKILL of the server', () => {
  let b24: Bitrix24Emulator;
  let pbx: YeastarEmulator;
  let data: Awaited<ReturnType<typeof tempDataDir>>;
  let port: number;
  let child: ChildProcess | undefined;
  let portal: PortalInfo;
  let anna: number;

  async function startChild(): Promise<void> {
    const proc = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'server-process.ts'), data.dir, String(port)], {
      stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, TEST_B24_OAUTH_SERVER: b24.serverEndpoint },
    });
    child = proc;
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error('server did not start')), 30_000);
      proc.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (process.env.TEST_LOG_LEVEL) process.stderr.write(chunk);
        if (out.includes('ready ')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code) => reject(new Error(`server exited early (${String(code)})`)));
    });
  }

  async function stopChild(signal: 'graceful' | 'SIGKILL'): Promise<void> {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    if (signal === 'SIGKILL') proc.kill('SIGKILL');
    else proc.stdin?.end();
    await exited;
    child = undefined;
  }

  beforeAll(async () => {
    [b24, pbx] = await Promise.all([startBitrix24Emulator(), startYeastarEmulator({ speed: 1000 })]);
    data = await tempDataDir();
    port = await freePort();
    await startChild();
    portal = await b24.createPortal();
    await b24.addUser(portal.memberId, { name: 'Ann', lastName: 'Admin', email: 'ann@example.com', admin: true });
    anna = (await b24.addUser(portal.memberId, { name: 'Anna', lastName: 'Agent', email: 'anna@example.com' })).id;
    expect((await b24.install(portal.memberId, { appUrl: `http://127.0.0.1:${port}` })).installerPage.status).toBe(200);
    await b24.finishInstall(portal.memberId);
    // Settings and bindings written straight into the data dir while the server is down (the settings API is another part's).
    await stopChild('graceful');
    const store = await openStore({ dataDir: data.dir, secretKey: await readKey(data.dir), log: createLogger('silent') });
    await store.bindings.replace(portal.memberId, [{ userId: anna, extension: '1001', source: 'manual' }]);
    await store.settings.put(portal.memberId, {
      ...DEFAULT_SETTINGS, enabled: true, defaultCountry: 'US',
      pbx: { baseUrl: pbx.url, clientId: pbx.clientId, clientSecret: pbx.clientSecret, events: 'websocket', webhookSecret: '' },
    });
    await store.close();
    await startChild();
    await eventually(async () => (await pbx.sockets()).length > 0, 15_000);
  });

  afterAll(async () => {
    await stopChild('SIGKILL');
    await Promise.all([b24?.stop(), pbx?.stop()]);
    await data?.remove();
  });

  it('a call in progress when the server dies is logged exactly once, with its recording, after the restart', async () => {
    // Short talk time: the emulator's CDR says the call lasted that many PBX seconds, and the supervisor defers
    // recovered CDRs that ended less than its tail ago, so a long one would only arrive after the test's bound.
    const { callId } = await pbx.scenario('inbound-answered', { to: '1001', talkSeconds: 3, record: true, hold: true });
    let call: CallView | undefined;
    await eventually(async () => Boolean((call = (await b24.calls(portal.memberId)).find((c) => (c.externalCallId ?? '').includes(callId)))), 15_000);
    await stopChild('SIGKILL');
    await pbx.continue(callId);
    await eventually(async () => (await pbx.cdr()).some((row) => row.call_id === callId), 5_000);
    await startChild();
    await eventually(async () => (await pbx.sockets()).length > 0, 15_000);
    await eventually(async () => {
      call = (await b24.calls(portal.memberId)).find((c) => (c.externalCallId ?? '').includes(callId));
      return Boolean(call?.finished && call.records.length > 0);
    }, 20_000);
    // Inside a batch every value arrives as text.
    expect(Object.fromEntries(Object.entries(call?.finished?.params ?? {}).map(([k, v]) => [k, String(v)])))
      .toMatchObject({ USER_ID: String(anna), DURATION: '3', STATUS_CODE: '200' });
    expect(call?.records[0]).toMatchObject({ kind: 'wav', valid: true });
    await new Promise((r) => setTimeout(r, 1_000));
    const mine = (await b24.calls(portal.memberId)).filter((c) => (c.externalCallId ?? '').includes(callId));
    expect(mine).toHaveLength(1);
    expect(mine[0]?.records).toHaveLength(1);
  });
});

async function readKey(dataDir: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  return (await readFile(join(dataDir, 'secret.key'), 'utf8')).trim();
}
