import pg from 'pg';

/**
 * Who wrote what, told by PostgreSQL itself: a trigger on every table that has a member_id column records each row
 * change with the writer's application_name (each instance names itself in its DATABASE_URL, instance.ts), the
 * table, the portal and the row as written. Installed by the test after the product's migrations ran; the product
 * does not know it is there. Clock: clock_timestamp() of the same machine the test reads Date.now() on.
 */
export interface AuditRow {
  at: number;
  app: string;
  tbl: string;
  op: string;
  memberId: string | null;
  row: Record<string, unknown> | null;
}

export async function installWriteAudit(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`
      CREATE TABLE IF NOT EXISTS fault_audit (
        id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp(), app text NOT NULL,
        tbl text NOT NULL, op text NOT NULL, member_id text, row_data jsonb);
      CREATE OR REPLACE FUNCTION fault_audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE r jsonb;
      BEGIN
        r := CASE WHEN TG_OP = 'DELETE' THEN to_jsonb(OLD) ELSE to_jsonb(NEW) END;
        INSERT INTO fault_audit (app, tbl, op, member_id, row_data)
          VALUES (current_setting('application_name'), TG_TABLE_NAME, TG_OP, r->>'member_id', r);
        RETURN NULL;
      END $$;`);
    const tables = await client.query<{ table_name: string }>(`
      SELECT DISTINCT table_name FROM information_schema.columns
      WHERE table_schema = 'public' AND column_name = 'member_id' AND table_name <> 'fault_audit'`);
    for (const { table_name: table } of tables.rows) {
      const name = table.replace(/"/g, '');
      await client.query(`DROP TRIGGER IF EXISTS fault_audit_${name} ON "${name}"`);
      await client.query(`CREATE TRIGGER fault_audit_${name} AFTER INSERT OR UPDATE OR DELETE ON "${name}" FOR EACH ROW EXECUTE FUNCTION fault_audit_row()`);
    }
  } finally {
    await client.end();
  }
}

export async function auditRows(databaseUrl: string, filter: { app: string; sinceMs: number }): Promise<AuditRow[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const r = await client.query<{ at: Date; app: string; tbl: string; op: string; member_id: string | null; row_data: Record<string, unknown> | null }>(
      'SELECT at, app, tbl, op, member_id, row_data FROM fault_audit WHERE app = $1 AND at >= $2 ORDER BY id',
      [filter.app, new Date(filter.sinceMs)],
    );
    return r.rows.map((x) => ({ at: x.at.getTime(), app: x.app, tbl: x.tbl, op: x.op, memberId: x.member_id, row: x.row_data }));
  } finally {
    await client.end();
  }
}
