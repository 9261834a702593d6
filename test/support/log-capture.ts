import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../server/log.js';

/**
 * The server's log lines kept in memory, so a test can scan everything the product wrote (secrets, error codes).
 * Debug level on purpose: the leak scan must see the chattiest output an operator could turn on.
 * TEST_LOG_LEVEL=debug also echoes the lines to stderr while debugging a test.
 */
export interface LogCapture {
  log: Logger;
  text(): string;
  /** Parsed lines whose `msg` contains `fragment`. */
  linesWith(fragment: string): Record<string, unknown>[];
}

export function captureLogs(level = 'debug'): LogCapture {
  const chunks: string[] = [];
  const echo = Boolean(process.env.TEST_LOG_LEVEL);
  const sink = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      const line = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
      chunks.push(line);
      if (echo) process.stderr.write(line);
      done();
    },
  });
  const text = () => chunks.join('');
  return {
    log: createLogger(level, sink),
    text,
    linesWith(fragment) {
      const found: Record<string, unknown>[] = [];
      for (const line of text().split('\n')) {
        if (!line.includes(fragment)) continue;
        try {
          const parsed: unknown = JSON.parse(line);
          if (typeof parsed === 'object' && parsed !== null) found.push(parsed as Record<string, unknown>);
        } catch {
          // A partial line: not a log record.
        }
      }
      return found;
    },
  };
}
