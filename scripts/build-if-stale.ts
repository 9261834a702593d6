import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * `npm start` (issue 12 point 11): build the web client only when dist/client is missing or older than what it is
 * built from, so a production restart does not spend ~7 s in `vite build`, while a fresh clone (or a pull that changed
 * the client) still gets a build from the one command the README promises.
 */
const SOURCES = ['client', 'install.html', 'vite.config.ts', 'package-lock.json', 'package.json'];
const BUILT = 'dist/client/client/index.html';

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path, { recursive: true, encoding: 'utf8' })) {
    newest = Math.max(newest, statSync(join(path, entry)).mtimeMs);
  }
  return newest;
}

/** Why the client must be built, or null when dist/client is up to date. */
export function staleReason(root: string): string | null {
  const built = resolve(root, BUILT);
  if (!existsSync(built)) return 'dist/client is missing';
  const builtAt = statSync(built).mtimeMs;
  const newer = SOURCES.find((source) => newestMtime(resolve(root, source)) > builtAt);
  return newer === undefined ? null : `${newer} changed since the last build`;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const root = process.cwd();
  const reason = staleReason(root);
  if (reason === null) {
    process.stdout.write('web client: dist/client is up to date, not rebuilding (npm run build forces it)\n');
  } else {
    process.stdout.write(`web client: building (${reason})\n`);
    const build = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
    if (build.status !== 0) process.exit(build.status ?? 1);
  }
}
