/**
 * Child process for the SIGKILL test: the real server (startServer + the calls wiring) on a fixed port and data dir.
 * Prints "ready <url>" once listening. Usage: node --import tsx server-process.ts <dataDir> <port>
 */
import { startTestServer, testConfig } from '../foundation/server-under-test.js';
import { callsProductParts } from './product-parts.js';

const [dataDir, port] = process.argv.slice(2);
if (!dataDir || !port) throw new Error('usage: server-process.ts <dataDir> <port>');
const server = await startTestServer(testConfig(dataDir, Number(port), { PBX_ALLOW_LOOPBACK: '1' }), { parts: callsProductParts({}) });
process.stdout.write(`ready ${server.url}\n`);
process.stdin.on('end', () => { void server.close().then(() => process.exit(0)); });
process.stdin.resume();
