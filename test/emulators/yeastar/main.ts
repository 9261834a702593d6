import { parseArgs } from 'node:util';
import { MultiPbxServer } from './multi-pbx.js';
import { YeastarEmulatorServer } from './server.js';
import type { EmulatorOptions } from './types.js';

/**
 * Yeastar P-Series PBX emulator as its own process:
 *   tsx test/emulators/yeastar/main.ts --port 0 [--client-id X --client-secret Y --access-ttl 1800 --refresh-ttl 86400
 *     --token-cap 8 --sn 3633D2199067 --ws-idle-ms 60000 --auth-failures 5 --speed 1000 --exit-with-stdin --debug --instances N]
 * Prints one JSON line {"ready":true,"url":"http://127.0.0.1:<port>"} once listening; exits on SIGTERM/SIGINT (and on stdin close with --exit-with-stdin).
 * With --instances N: N independent PBXs under /pbx/0 … /pbx/N-1 (multi-pbx.ts); the ready line adds "instances":N.
 */

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'access-ttl': { type: 'string' },
    'refresh-ttl': { type: 'string' },
    'token-cap': { type: 'string' },
    sn: { type: 'string' },
    'ws-idle-ms': { type: 'string' },
    'auth-failures': { type: 'string' },
    speed: { type: 'string' },
    'exit-with-stdin': { type: 'boolean', default: false },
    debug: { type: 'boolean', default: false },
    instances: { type: 'string' },
  },
});

function num(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`not a number: ${raw}`);
  return n;
}

const options: Partial<EmulatorOptions> = {};
if (values['client-id']) options.clientId = values['client-id'];
if (values['client-secret']) options.clientSecret = values['client-secret'];
const numeric: [keyof EmulatorOptions, string | undefined][] = [
  ['accessTokenTtlSec', values['access-ttl']],
  ['refreshTokenTtlSec', values['refresh-ttl']],
  ['tokenCap', values['token-cap']],
  ['wsIdleTimeoutMs', values['ws-idle-ms']],
  ['authFailuresBeforeBlock', values['auth-failures']],
  ['defaultSpeed', values.speed],
];
for (const [key, raw] of numeric) {
  const n = num(raw);
  if (n !== undefined) Object.assign(options, { [key]: n });
}
if (values.sn) options.sn = values.sn;
// The one environment switch of the emulator: trace everything to stderr while debugging a test.
options.debug = values.debug === true || process.env.YEASTAR_EMULATOR_DEBUG === '1';

const host = values.host ?? '127.0.0.1';
if (host !== '127.0.0.1' && host !== 'localhost' && host !== '::1') throw new Error('the emulator listens on loopback only');

const instances = num(values.instances);
let emulator: { close(): Promise<void> };
if (instances === undefined) {
  const started = await YeastarEmulatorServer.start(options, num(values.port) ?? 0, host);
  emulator = started.emulator;
  process.stdout.write(`${JSON.stringify({ ready: true, url: started.url })}\n`);
} else {
  const started = await MultiPbxServer.start(options, instances, num(values.port) ?? 0, host);
  emulator = started.multi;
  process.stdout.write(`${JSON.stringify({ ready: true, url: started.url, instances })}\n`);
}

let closing = false;
async function shutdown(): Promise<void> {
  if (closing) return;
  closing = true;
  await emulator.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
if (values['exit-with-stdin']) {
  // The harness keeps our stdin open; when the parent test process dies the pipe closes and we must not outlive it.
  process.stdin.on('end', () => void shutdown());
  process.stdin.on('error', () => void shutdown());
  process.stdin.resume();
}
