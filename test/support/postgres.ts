import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/**
 * A throwaway PostgreSQL cluster for one test file: initdb into a temp dir, pg_ctl on a free loopback port with the
 * socket in that dir (never the system's cluster or /var/run/postgresql), trust auth for the `postgres` superuser.
 * As root the server runs as the `postgres` user (PostgreSQL refuses to run as root). scripts/ensure-postgres.sh
 * (npm test) installs Debian's postgresql when initdb is missing.
 */
export interface PgCluster {
  port: number;
  /** A new empty database; returns its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Stops the server and removes the cluster. */
  stop(): Promise<void>;
  /** Stops the server without removing its data (the network-cut case); start() brings it back. */
  pause(): Promise<void>;
  start(): Promise<void>;
}

function binDir(): string {
  const fromPath = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).stdout.trim();
  const versions = existsSync('/usr/lib/postgresql')
    ? readdirSync('/usr/lib/postgresql').filter((v) => existsSync(join('/usr/lib/postgresql', v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions[0] !== undefined) return join('/usr/lib/postgresql', versions[0], 'bin');
  if (fromPath !== '') return fromPath.replace(/\/initdb$/, '');
  throw new Error('initdb not found (install Debian postgresql: bash scripts/ensure-postgres.sh)');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Runs a PostgreSQL binary, as the postgres user when we are root. */
async function pgExec(bin: string, args: string[]): Promise<void> {
  const [cmd, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  await run(cmd, argv, { timeout: 60_000 });
}

/**
 * `durable`: keep PostgreSQL's fsync and full-page writes on (the bench measures what a commit really costs); tests
 * turn them off, since a throwaway cluster never survives a power cut anyway.
 */
export async function startPostgres(opts: { durable?: boolean } = {}): Promise<PgCluster> {
  const bin = binDir();
  const dir = await mkdtemp(join(tmpdir(), 'pgstore-'));
  const data = join(dir, 'data');
  if (asRoot) {
    const ids = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim();
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim();
    await chown(dir, Number(ids), Number(gid));
  }
  await chmod(dir, 0o700);
  await pgExec(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200${opts.durable ? '' : ' -c fsync=off -c full_page_writes=off'}`;
  const start = (): Promise<void> => pgExec(join(bin, 'pg_ctl'), ['-D', data, '-o', options, '-l', join(dir, 'server.log'), '-w', 'start']);
  const stopServer = (): Promise<void> => pgExec(join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']);
  await start();
  // A test process that dies without stop() (a crash, a timeout) must not leave a server running on the machine.
  const stopOnExit = (): void => {
    const argv = [join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', 'stop'];
    if (asRoot) spawnSync('runuser', ['-u', 'postgres', '--', ...argv], { stdio: 'ignore' });
    else spawnSync(argv[0] ?? 'pg_ctl', argv.slice(1), { stdio: 'ignore' });
    spawnSync('rm', ['-rf', dir], { stdio: 'ignore' });
  };
  process.once('exit', stopOnExit);
  let databases = 0;
  return {
    port,
    async createDatabase(name) {
      databases += 1;
      const db = name ?? `t${process.pid}_${databases}`;
      const admin = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE "${db.replace(/"/g, '')}"`);
      } finally {
        await admin.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${db}`;
    },
    pause: stopServer,
    start,
    async stop() {
      process.off('exit', stopOnExit);
      await stopServer().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Runs one statement on its own connection (a test reading or changing the database behind the store's back). */
export async function queryRows<T extends pg.QueryResultRow>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}
