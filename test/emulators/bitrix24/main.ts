/**
 * The Bitrix24 portal emulator as its own process:
 *   tsx test/emulators/bitrix24/main.ts --port 0 [--no-rate-limit] [--drain-rate N] [--burst N] [--token-ttl SECONDS]
 * Prints one JSON line `{"ready":true,"url":"http://127.0.0.1:<port>"}` when listening.
 * App credentials: env B24_EMU_CLIENT_ID / B24_EMU_CLIENT_SECRET (defaults in emulator.ts).
 */
import { parseArgs } from 'node:util';
import { controlHandler } from './control.js';
import { Bitrix24Cloud } from './emulator.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'no-rate-limit': { type: 'boolean', default: false },
    'drain-rate': { type: 'string' },
    burst: { type: 'string' },
    'token-ttl': { type: 'string' },
  },
});

const cloud = new Bitrix24Cloud({
  clientId: process.env.B24_EMU_CLIENT_ID || undefined,
  clientSecret: process.env.B24_EMU_CLIENT_SECRET || undefined,
  rateLimit: !values['no-rate-limit'],
  drainRate: values['drain-rate'] ? Number(values['drain-rate']) : null,
  burst: values.burst ? Number(values.burst) : null,
  accessTokenTtlSec: values['token-ttl'] ? Number(values['token-ttl']) : undefined,
});
cloud.controlHandler = controlHandler(cloud);
const url = await cloud.start(Number(values.port));
process.stdout.write(`${JSON.stringify({ ready: true, url })}\n`);

const shutdown = (): void => {
  void cloud.stop().then(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
