/**
 * The product as a child process, so a test can SIGKILL it: startServer with the test timings (product-options.ts),
 * PBX on loopback allowed, logging at debug level to a file the test scans for secrets.
 * Prints "ready <url>" once listening; closing stdin stops it gracefully.
 * Usage: node --import tsx server-process.ts <dataDir> <port> <logFile> [<env overrides as JSON>]
 */
import { pino } from 'pino';
import { createLogger } from '../../server/log.js';
import { testConfig } from '../integration/foundation/server-under-test.js';
import { startProduct } from './product-options.js';

const [dataDir, port, logFile, envJson] = process.argv.slice(2);
if (!dataDir || !port || !logFile) throw new Error('usage: server-process.ts <dataDir> <port> <logFile>');
// Synchronous writes: a SIGKILL must not lose lines already logged (they are what the leak scan reads).
const log = createLogger('debug', pino.destination({ dest: logFile, sync: true, append: true }));
const env = { PBX_ALLOW_LOOPBACK: '1', LOG_LEVEL: 'debug', ...(envJson ? JSON.parse(envJson) as Record<string, string> : {}) };
const server = await startProduct(testConfig(dataDir, Number(port), env), log);
process.stdout.write(`ready ${server.url}\n`);
process.stdin.on('end', () => { void server.close().then(() => process.exit(0)); });
process.stdin.resume();
