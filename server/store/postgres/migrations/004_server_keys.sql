-- Keys the server itself holds, one for every instance sharing the database (server/store/postgres/server-keys.ts).
-- Today one: 'webhook', the key that derives each portal's unguessable PBX webhook URL (pbx/webhook-routing.ts).
-- With the file store each instance kept it in its own DATA_DIR/webhook.key, so two instances gave the same portal
-- two different URLs; here it is one row. Sealed with SECRET_KEY like the portals' secrets (store/secrets.ts): the
-- database alone does not give it away. Written once (INSERT ... ON CONFLICT DO NOTHING, then read back: the first
-- instance to start wins the race and every other one reads its key); no trigger, as it never changes afterwards.
CREATE TABLE server_keys (
  name       text PRIMARY KEY,
  sealed     text NOT NULL,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
