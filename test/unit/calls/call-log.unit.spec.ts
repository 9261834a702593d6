import { afterEach, describe, expect, it } from 'vitest';
import { createBitrixClients } from '../../../server/bitrix/client.js';
import { loadConfig } from '../../../server/config.js';
import { createOutbox } from '../../../server/outbox/index.js';
import { createProductParts, type WiredProductParts } from '../../../server/parts.js';
import { openStore } from '../../../server/store/index.js';
import type { Store } from '../../../server/store/types.js';
import { captureLogs } from '../../support/log-capture.js';
import { TEST_KEY, tempDir } from '../store/helpers.js';

/**
 * Before: parts.ts bound `part` on the calls log and the calls service bound it again, so every call line read
 * `"part":"calls","part":"calls"`, and each line typed portal/callId by hand. After: each part binds its own `part`
 * once, and a call's lines get `portal` and `pbxCallId` from one child logger. An operator filtering the log by
 * `pbxCallId` (or feeding it to a JSON tool that keeps the first or last duplicate) sees every line of the call.
 */

/** The top-level keys of one JSON log line in the order written, duplicates kept (JSON.parse would merge them). */
function topLevelKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i];
    if (c === '{' || c === '[') depth += 1;
    else if (c === '}' || c === ']') depth -= 1;
    else if (c === '"') {
      let end = i + 1;
      while (end < line.length && line[end] !== '"') end += line[end] === '\\' ? 2 : 1;
      if (depth === 1 && line[end + 1] === ':') keys.push(line.slice(i + 1, end));
      i = end;
    }
  }
  return keys;
}

const duplicates = (keys: string[]) => keys.filter((k, i) => keys.indexOf(k) !== i);

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function wiredParts(): Promise<{ parts: WiredProductParts; logs: ReturnType<typeof captureLogs>; store: Store }> {
  const { dir, cleanup } = await tempDir();
  const logs = captureLogs('debug');
  const config = loadConfig({ DATA_DIR: dir });
  const store = await openStore({ dataDir: dir, secretKey: TEST_KEY, log: logs.log });
  const clients = createBitrixClients({ store, config, log: logs.log.child({ part: 'bitrix' }) });
  const outbox = createOutbox({ store, clients, log: logs.log.child({ part: 'outbox' }), maxAttempts: 1 });
  // As server/index.ts wires them: the parts get the root log.
  const parts = createProductParts({ config, log: logs.log, store, clients, outbox });
  cleanups.push(async () => { await parts.stop(); await store.close(); await cleanup(); });
  return { parts, logs, store };
}

describe('call logs', () => {
  it('topLevelKeys sees a duplicate key that JSON.parse would hide', () => {
    expect(duplicates(topLevelKeys('{"part":"calls","part":"calls","x":{"part":1},"msg":"a \\"part\\":"}'))).toEqual(['part']);
  });

  it('a call\'s line carries portal and pbxCallId once, and no line repeats a key', async () => {
    const { parts, logs } = await wiredParts();
    // A portal without settings is disabled: the calls service logs that it leaves the call alone.
    await parts.calls.service.handleEvent({
      portal: 'm-log', pbxCallId: 'pbx-42', at: 1_700_000_000_000, kind: 'ringing', direction: 'inbound', external: '+15550001111', extensions: [],
    });
    // And the click-to-call part (bound on the same root log) refuses a callback on a portal without a PBX.
    await parts.telephonyEvents.externalCallbackStart('m-log', { phoneNumber: '+15550001111', text: '', lineNumber: 'l', crm: null });
    const [line] = logs.linesWith('portal disabled: call not handled');
    expect(line).toMatchObject({ part: 'calls', portal: 'm-log', pbxCallId: 'pbx-42' });
    const raw = logs.text().split('\n').filter((l) => l.startsWith('{'));
    const callLine = raw.find((l) => l.includes('portal disabled'));
    expect(callLine && topLevelKeys(callLine).filter((k) => k === 'portal' || k === 'pbxCallId' || k === 'part')).toEqual(['part', 'portal', 'pbxCallId']);
    expect(logs.linesWith('callback request while the PBX connection is off')).toMatchObject([{ part: 'click-to-call', portal: 'm-log' }]);
    for (const l of raw) expect(duplicates(topLevelKeys(l)), l).toEqual([]);
  });
});
