import { APP_SCOPES } from './bitrix/scopes.js';
import { loadConfig } from './config.js';
import { createLogger } from './log.js';
import { startServer } from './index.js';
import { startWarnings } from './start-warnings.js';

/** `npm start`: read the environment once, start, and stop cleanly on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  let running;
  try {
    running = await startServer(config, { log });
  } catch (err) {
    log.fatal({ err }, 'start failed');
    // Also in plain words on stderr: an operator starting a second process on the same DATA_DIR, or one whose
    // portals.json cannot be read, must see why without reading JSON logs (the message names the file or PID).
    process.stderr.write(`start failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
    return;
  }
  const server = running;
  process.stdout.write(
    `\nPBX connector for Bitrix24 is running on ${server.url}\n`
    + `  Handler URL (app page):   ${config.publicUrl}/\n`
    + `  Installer URL:            ${config.publicUrl}/install\n`
    + `  Install event handler:    ${config.publicUrl}/b24/events\n`
    + `  Scopes:                   ${APP_SCOPES.join(', ')}\n\n`
    + startWarnings(config).map((w) => `  Warning: ${w.message}\n`).join(''),
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    server.close().then(() => process.exit(0), (err: unknown) => {
      log.error({ err }, 'stop failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

void main();
