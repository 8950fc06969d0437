-- Virtual waiting room (issue 5). One row per event holds every counter, so several hub processes share one queue:
-- arrival numbers come from a single UPDATE ... RETURNING on this row, and the admitted frontier is a function of
-- (frontier_base, rate_since, effective rate) and the clock, so nothing has to run for people to be admitted.
CREATE TABLE IF NOT EXISTS waiting_room_event (
  id text PRIMARY KEY,
  name text NOT NULL,
  opens_at timestamptz NOT NULL,
  -- Seeds the permutation that shuffles the pre-queue at opening.
  shuffle_seed text NOT NULL,
  configured_rate_per_minute double precision NOT NULL CHECK (configured_rate_per_minute > 0),
  -- Adaptive factor (0..1] applied to the configured rate when the booking path degrades.
  rate_factor double precision NOT NULL DEFAULT 1,
  max_active integer NOT NULL CHECK (max_active > 0),
  session_seconds integer NOT NULL DEFAULT 900,
  paused boolean NOT NULL DEFAULT false,
  queue_all boolean NOT NULL DEFAULT false,
  -- true while the cap on active users holds the frontier still.
  capped boolean NOT NULL DEFAULT false,
  frontier_base double precision NOT NULL DEFAULT 0,
  rate_since timestamptz NOT NULL,
  pre_count bigint NOT NULL DEFAULT 0,
  post_count bigint NOT NULL DEFAULT 0,
  done_count bigint NOT NULL DEFAULT 0,
  version bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Places held by a known person (registrant) or device, so reload and a second device find the same place.
CREATE TABLE IF NOT EXISTS waiting_room_entry (
  event_id text NOT NULL REFERENCES waiting_room_event(id),
  binding text NOT NULL,
  phase text NOT NULL CHECK (phase IN ('pre', 'open')),
  arrival_number bigint NOT NULL,
  replay_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (event_id, binding)
);

-- Admitted people who entered the booking path (active until done or their session ends).
CREATE TABLE IF NOT EXISTS waiting_room_session (
  event_id text NOT NULL REFERENCES waiting_room_event(id),
  replay_id text NOT NULL,
  entered_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  done_at timestamptz,
  PRIMARY KEY (event_id, replay_id)
);
CREATE INDEX IF NOT EXISTS waiting_room_session_active ON waiting_room_session (event_id, expires_at) WHERE done_at IS NULL;
