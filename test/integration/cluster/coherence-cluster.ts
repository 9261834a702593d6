import type { RunningServer } from '../../../server/index.js';
import { captureLogs, type LogCapture } from '../../support/log-capture.js';
import { startPostgres, type PgCluster } from '../../support/postgres.js';
import { startProduct } from '../../support/product-options.js';
import { callApiAs, startStack, type ApiAnswer, type Stack, type StackOptions, type Tenant } from '../../support/stack.js';
import { freePort, tempDataDir, testConfig } from '../foundation/server-under-test.js';

/**
 * Two instances of the real product in this process on one PostgreSQL database (a throwaway cluster), with the
 * Bitrix24 and Yeastar emulators: instance A is the stack's server (Bitrix24 installs the app through it), instance
 * B a second startServer with the same DATABASE_URL, secret key and app credentials, its own port and DATA_DIR.
 */
export interface TwoInstances {
  stack: Stack;
  a: RunningServer;
  b: RunningServer;
  /** An /api request to one instance, as the tenant's admin or agent (the same frame token works on both). */
  api(on: 'a' | 'b', tenant: Tenant, as: 'admin' | 'agent', method: string, path: string, body?: unknown): Promise<ApiAnswer>;
  logs(): string;
  close(): Promise<void>;
}

const SECRET_KEY = 'c'.repeat(64);

export async function startTwoInstances(opts: { b24?: StackOptions['b24'] } = {}): Promise<TwoInstances> {
  const pg: PgCluster = await startPostgres();
  const databaseUrl = await pg.createDatabase();
  const env = { DATABASE_URL: databaseUrl, SECRET_KEY };
  const stack = await startStack({ env, ...(opts.b24 ? { b24: opts.b24 } : {}) });
  const dataB = await tempDataDir();
  const portB = await freePort();
  const captureB: LogCapture = captureLogs();
  const configB = testConfig(dataB.dir, portB, {
    PBX_ALLOW_LOOPBACK: '1', B24_ALLOW_LOOPBACK: '1', B24_OAUTH_SERVER: `${stack.b24.url}/rest/`, LOG_LEVEL: 'debug', ...env,
  });
  const b = await startProduct(configB, captureB.log);
  const a = stack.server();

  const api: TwoInstances['api'] = (on, tenant, as, method, path, body) => callApiAs(on === 'a' ? a.url : b.url, tenant, as, method, path, body);

  return {
    stack, a, b, api,
    logs: () => captureB.text(),
    async close() {
      await b.close().catch(() => undefined);
      await stack.close();
      await dataB.remove();
      await pg.stop();
    },
  };
}
