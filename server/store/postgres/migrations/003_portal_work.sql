-- What keeps several instances on one database in agreement (design §6; server/cluster/notify.ts).

-- Cache coherence: every instance keeps the store's records in memory, so every committed write tells the others
-- which row changed with NOTIFY store_changed. A trigger, not the application, sends it: the notification is part
-- of the writing transaction (delivered at commit, dropped at rollback) and no write path can forget it. The payload
-- carries ids only (NOTIFY payloads are visible to any session of the database): the kind, the portal, the row key,
-- and the writer's instance id (its application_name) so the writer ignores its own notification.
CREATE FUNCTION notify_store_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  member text;
BEGIN
  IF TG_OP = 'DELETE' THEN member := OLD.member_id; ELSE member := NEW.member_id; END IF;
  PERFORM pg_notify('store_changed', json_build_object(
    'kind', TG_ARGV[0], 'memberId', member, 'from', current_setting('application_name'))::text);
  RETURN NULL;
END $$;

-- Calls and outbox items are many per portal: their notifications name the row, so a reader reloads that one row.
CREATE FUNCTION notify_call_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('store_changed', json_build_object(
    'kind', 'call', 'memberId', NEW.member_id, 'key', NEW.pbx_call_id, 'from', current_setting('application_name'))::text);
  RETURN NULL;
END $$;

CREATE FUNCTION notify_outbox_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('store_changed', json_build_object(
    'kind', 'outbox', 'memberId', NEW.member_id, 'key', NEW.id, 'from', current_setting('application_name'))::text);
  RETURN NULL;
END $$;

CREATE TRIGGER portals_changed AFTER INSERT OR UPDATE OR DELETE ON portals
  FOR EACH ROW EXECUTE FUNCTION notify_store_changed('portal');
CREATE TRIGGER settings_changed AFTER INSERT OR UPDATE OR DELETE ON portal_settings
  FOR EACH ROW EXECUTE FUNCTION notify_store_changed('settings');
CREATE TRIGGER bindings_changed AFTER INSERT OR UPDATE OR DELETE ON portal_bindings
  FOR EACH ROW EXECUTE FUNCTION notify_store_changed('bindings');
CREATE TRIGGER contact_sync_changed AFTER INSERT OR UPDATE OR DELETE ON contact_sync
  FOR EACH ROW EXECUTE FUNCTION notify_store_changed('contact-sync');
CREATE TRIGGER missed_call_tasks_changed AFTER INSERT OR UPDATE OR DELETE ON missed_call_tasks
  FOR EACH ROW EXECUTE FUNCTION notify_store_changed('missed-call-tasks');
CREATE TRIGGER link_marks_changed AFTER INSERT OR UPDATE ON pbx_link_marks
  FOR EACH ROW EXECUTE FUNCTION notify_store_changed('link-mark');
-- Deleted calls and outbox rows are not announced one by one: only a portal's removal deletes calls (announced by
-- its portals row), and done outbox items past retention are pruned by every instance from memory on its own.
CREATE TRIGGER calls_changed AFTER INSERT OR UPDATE ON calls
  FOR EACH ROW EXECUTE FUNCTION notify_call_changed();
CREATE TRIGGER outbox_changed AFTER INSERT OR UPDATE ON outbox
  FOR EACH ROW EXECUTE FUNCTION notify_outbox_changed();

-- When a call row last changed, by the database's clock: after its LISTEN link was down, an instance reads again
-- the calls changed since it last heard the database (store/postgres/coherence.ts), not the whole history.
ALTER TABLE calls ADD COLUMN changed_at timestamptz NOT NULL DEFAULT now();
CREATE FUNCTION touch_changed_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.changed_at := now();
  RETURN NEW;
END $$;
CREATE TRIGGER calls_touch BEFORE UPDATE ON calls FOR EACH ROW EXECUTE FUNCTION touch_changed_at();
CREATE INDEX calls_changed ON calls (changed_at);

-- Live work handed to a portal's owner by an instance that received it (a click-to-call, a connection test while
-- linked, a contact-sync push): the requester inserts a row and NOTIFYs portal_work; the owner claims it
-- (FOR UPDATE SKIP LOCKED, under its lease epoch), runs it and writes the answer; the requester waits for the state.
CREATE TABLE portal_work (
  id          bigserial PRIMARY KEY,
  member_id   text NOT NULL,
  kind        text NOT NULL,
  input       jsonb NOT NULL,            -- ids and plain parameters; never a secret (the owner reads those itself)
  state       text NOT NULL DEFAULT 'pending',   -- pending | running | done | failed
  result      jsonb,
  error       jsonb,                     -- {code, message, status}
  requested_by text NOT NULL,
  claimed_by  text,
  epoch       bigint,
  created_at  timestamptz NOT NULL DEFAULT now(),
  deadline_at timestamptz NOT NULL,
  finished_at timestamptz
);
CREATE INDEX portal_work_pending ON portal_work (member_id, id) WHERE state = 'pending';

-- A portal's Bitrix24 rate bucket shared by every instance (bitrix/shared-bucket.ts): the level of Bitrix24's
-- leaky bucket (https://apidocs.bitrix24.com/limits.html) as our instances together have filled it, drained by the
-- database's clock. take_portal_token takes one request's room under the row lock, so two instances never both
-- take the last of it; it answers 0 (taken) or the milliseconds until there is room.
CREATE TABLE portal_buckets (
  member_id text PRIMARY KEY,
  level     double precision NOT NULL DEFAULT 0,
  at        timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE FUNCTION take_portal_token(p_member text, p_burst double precision, p_drain double precision) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  lvl double precision;
BEGIN
  INSERT INTO portal_buckets (member_id) VALUES (p_member) ON CONFLICT DO NOTHING;
  SELECT greatest(0, level - extract(epoch FROM clock_timestamp() - at) * p_drain) INTO lvl
    FROM portal_buckets WHERE member_id = p_member FOR UPDATE;
  IF lvl + 1 <= p_burst THEN
    UPDATE portal_buckets SET level = lvl + 1, at = clock_timestamp() WHERE member_id = p_member;
    RETURN 0;
  END IF;
  UPDATE portal_buckets SET level = lvl, at = clock_timestamp() WHERE member_id = p_member;
  RETURN greatest(1, ceil((lvl + 1 - p_burst) * 1000 / p_drain))::integer;
END $$;
