import { afterAll, beforeAll } from 'vitest';
import { startPostgres, type PgCluster } from './postgres.js';

/**
 * One throwaway PostgreSQL cluster for the calling test file: started before its first test, removed after its last.
 * Kept apart from postgres.ts because the bench starts clusters too and must not import vitest.
 */
export function postgresForThisFile(): PgCluster {
  let started: PgCluster | undefined;
  beforeAll(async () => {
    started = await startPostgres();
  }, 120_000);
  afterAll(async () => {
    await started?.stop();
  });
  const running = (): PgCluster => {
    if (started === undefined) throw new Error('the PostgreSQL cluster is used before beforeAll started it');
    return started;
  };
  return {
    get port() {
      return running().port;
    },
    createDatabase: (name) => running().createDatabase(name),
    stop: () => running().stop(),
    pause: () => running().pause(),
    start: () => running().start(),
  };
}
