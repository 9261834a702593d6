import pg from 'pg';
import { openStore } from '../../../../server/store/index.js';
import { postgresForThisFile } from '../../../support/postgres-for-file.js';
import { CONTRACT_KEY, contractLog, defineStoreContract } from './store-contract.js';

const cluster = postgresForThisFile();

defineStoreContract('PostgreSQL store (DATABASE_URL)', async () => {
  const url = await cluster.createDatabase();
  return {
    open: (opts) => openStore({ dataDir: '/nonexistent-the-postgres-store-uses-no-files', databaseUrl: url, secretKey: opts?.secretKey ?? CONTRACT_KEY, log: contractLog(), ...(opts?.now ? { now: opts.now } : {}) }),
    async rawDump() {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const tables = await client.query<{ tablename: string }>(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`);
        const dumps: string[] = [];
        for (const { tablename } of tables.rows) {
          const rows = await client.query(`SELECT * FROM "${tablename}"`);
          dumps.push(JSON.stringify(rows.rows));
        }
        return dumps.join('\n');
      } finally {
        await client.end();
      }
    },
    linkMarks: (store) => {
      if (!store.linkMarks) throw new Error('the PostgreSQL store keeps the PBX link marks itself');
      return store.linkMarks;
    },
    dispose: async () => undefined,
  };
});
