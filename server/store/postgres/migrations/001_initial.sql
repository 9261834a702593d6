-- The PostgreSQL store (server/store/postgres/): everything the file store keeps under DATA_DIR, one table per kind.
-- Records are kept whole as jsonb (the same shapes as the file store's documents, secrets sealed the same way), with
-- the columns the store looks rows up or orders them by beside them.

-- Ownership of a portal's live work across instances (design §6). Taken and renewed with one
-- UPDATE ... WHERE expires_at < now() OR owner = $me RETURNING epoch; every change of owner increments epoch.
CREATE TABLE portal_leases (
  member_id  text PRIMARY KEY,
  owner      text NOT NULL,
  epoch      bigint NOT NULL DEFAULT 0,
  expires_at timestamptz NOT NULL
);

-- The fencing check every owner write carries in the same statement: NULL epoch = the store is not fenced (one
-- instance); otherwise the write lands only while the writer's epoch is still the portal's current one, so an owner
-- that paused past its lease (GC, SIGSTOP, a network cut) cannot overwrite what the new owner did.
CREATE FUNCTION portal_epoch_ok(p_member text, p_epoch bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT p_epoch IS NULL OR EXISTS (SELECT 1 FROM portal_leases WHERE member_id = p_member AND epoch = p_epoch)
$$;

CREATE TABLE portals (
  member_id  text PRIMARY KEY,
  record     jsonb NOT NULL,          -- Portal, tokens sealed (store/secrets.ts sealPortal)
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE portal_settings (
  member_id  text PRIMARY KEY,
  settings   jsonb NOT NULL,          -- PortalSettings, PBX secrets sealed (sealSettings)
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE portal_bindings (
  member_id  text PRIMARY KEY,
  bindings   jsonb NOT NULL DEFAULT '[]',
  card_modes jsonb NOT NULL DEFAULT '{}',
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE contact_sync (
  member_id   text NOT NULL,
  entity_type text NOT NULL,
  entity_id   bigint NOT NULL,
  entry       jsonb NOT NULL,
  PRIMARY KEY (member_id, entity_type, entity_id)
);

CREATE TABLE missed_call_tasks (
  member_id text NOT NULL,
  phone     text NOT NULL,
  entry     jsonb NOT NULL,
  PRIMARY KEY (member_id, phone)
);

CREATE TABLE calls (
  member_id   text NOT NULL,
  pbx_call_id text NOT NULL,
  started_at  bigint NOT NULL,
  phase       text NOT NULL,
  b24_call_id text,
  external    text,
  entity_type text,
  entity_id   bigint,
  record      jsonb NOT NULL,
  updated_at  bigint NOT NULL,
  PRIMARY KEY (member_id, pbx_call_id)
);
CREATE INDEX calls_recent ON calls (member_id, started_at DESC, pbx_call_id DESC);
CREATE INDEX calls_b24 ON calls (member_id, b24_call_id) WHERE b24_call_id IS NOT NULL;
CREATE INDEX calls_entity ON calls (member_id, entity_type, entity_id, started_at DESC) WHERE entity_id IS NOT NULL;
CREATE INDEX calls_phone ON calls (member_id, external, started_at DESC);
CREATE INDEX calls_open ON calls (member_id) WHERE phase IN ('live', 'ended');

CREATE TABLE outbox (
  id              text PRIMARY KEY,
  member_id       text NOT NULL,
  grp             text NOT NULL,
  seq             bigint NOT NULL,
  key             text,
  status          text NOT NULL,
  next_attempt_at bigint NOT NULL,
  done_at         bigint,
  delivered       boolean NOT NULL DEFAULT false,
  item            jsonb NOT NULL
);
CREATE UNIQUE INDEX outbox_key ON outbox (member_id, key) WHERE key IS NOT NULL;
-- Due items of a portal in enqueue order: what an owner claims (FOR UPDATE SKIP LOCKED) once leases exist.
CREATE INDEX outbox_due ON outbox (member_id, seq) WHERE status = 'pending';
CREATE INDEX outbox_done ON outbox (done_at) WHERE status = 'done';

-- The PBX supervisor's coverage marks (pbx/link-state.ts): the time up to which a portal's link heard everything.
CREATE TABLE pbx_link_marks (
  member_id     text PRIMARY KEY,
  covered_until bigint NOT NULL
);
