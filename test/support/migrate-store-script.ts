import { spawn } from 'node:child_process';
import { join } from 'node:path';

const SCRIPT = join(import.meta.dirname, '..', '..', 'scripts', 'migrate-store.ts');

export interface ScriptRun {
  code: number | null;
  out: string;
  err: string;
}

/** `npm run migrate-store -- --from file --to postgres <args>` as an operator runs it: its own process, its exit code and output. */
export function runMigrateStore(env: Record<string, string>, args: string[] = []): Promise<ScriptRun> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', SCRIPT, '--from', 'file', '--to', 'postgres', ...args], {
      env: { ...process.env, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    proc.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    proc.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    proc.on('exit', (code) => resolve({ code, out, err }));
  });
}
