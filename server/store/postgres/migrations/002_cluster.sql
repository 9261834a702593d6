-- Several instances on one database (server/cluster/, design §6): each instance's heartbeat, from which every instance
-- counts the live ones and so its fair share of the portals (portals ÷ live instances).
CREATE TABLE instances (
  instance_id  text PRIMARY KEY,
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  started_at   timestamptz NOT NULL DEFAULT now()
);

-- The lease scan looks for leases that ran out (or a dead owner's) on every tick of every instance.
CREATE INDEX portal_leases_expiry ON portal_leases (expires_at);
CREATE INDEX portal_leases_owner ON portal_leases (owner);
