-- Opening night (issue 5): pre-registration, lottery draws, invitation tickets, cohort windows.

-- Secrets the hub generates on first use (never defaults, never committed); one row per purpose.
CREATE TABLE IF NOT EXISTS opening_night_secret (
  name text PRIMARY KEY,
  secret text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- A pre-registered person. The Patient resource holds identity; this row holds what the lottery and the gate need.
CREATE TABLE IF NOT EXISTS registrant (
  id text PRIMARY KEY,
  patient_id text NOT NULL,
  -- sha256 of normalised family|given|birthDate: one registration per person, so nobody doubles their lottery odds.
  identity_key text NOT NULL UNIQUE,
  -- The registrant who filled in the form for this person (family member), or NULL when self-registered.
  registered_by text REFERENCES registrant(id),
  email text,
  phone text,
  birth_date date NOT NULL,
  postal_code text NOT NULL,
  answers jsonb NOT NULL,
  tier text,
  tier_rank integer,
  rules_version text NOT NULL,
  status text NOT NULL DEFAULT 'registered' CHECK (status IN ('registered', 'invited', 'booked')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (email IS NOT NULL OR phone IS NOT NULL)
);
CREATE INDEX IF NOT EXISTS registrant_pool ON registrant (status, tier_rank);
CREATE INDEX IF NOT EXISTS registrant_patient ON registrant (patient_id);

-- Opening windows per cohort, scheduled in advance. criteria: {birthYearFrom, birthYearTo, dobLastDigits[], employerSites[], tiers[]}.
CREATE TABLE IF NOT EXISTS cohort_window (
  id text PRIMARY KEY,
  name text NOT NULL,
  opens_at timestamptz NOT NULL,
  closes_at timestamptz NOT NULL,
  criteria jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (closes_at > opens_at)
);

-- A verifiable lottery: seed_hash is published at commit time, seed when revealed; the inputs are kept whole.
CREATE TABLE IF NOT EXISTS lottery_draw (
  id text PRIMARY KEY,
  label text NOT NULL,
  status text NOT NULL CHECK (status IN ('committed', 'drawn')),
  invitations integer NOT NULL CHECK (invitations >= 0),
  tier_order jsonb NOT NULL,
  window_id text REFERENCES cohort_window(id),
  use_equity_weights boolean NOT NULL,
  seed_hash text NOT NULL,
  -- Kept secret (never returned by the API) until the draw is run, then published with everything else.
  seed text NOT NULL,
  committed_at timestamptz NOT NULL,
  drawn_at timestamptz,
  snapshot jsonb,
  snapshot_hash text,
  weights jsonb,
  selected jsonb,
  algorithm text NOT NULL
);

-- An invitation. The link carries a random ticket secret; only its sha256 is stored (id_hash).
CREATE TABLE IF NOT EXISTS invitation_ticket (
  ref text PRIMARY KEY,
  id_hash text NOT NULL UNIQUE,
  registrant_id text NOT NULL REFERENCES registrant(id),
  draw_id text REFERENCES lottery_draw(id),
  window_id text REFERENCES cohort_window(id),
  status text NOT NULL CHECK (status IN ('issued', 'claimed', 'used', 'revoked', 'expired')),
  expires_at timestamptz NOT NULL,
  code_hash text,
  code_expires_at timestamptz,
  code_attempts integer NOT NULL DEFAULT 0,
  codes_sent integer NOT NULL DEFAULT 0,
  -- Bumped on every successful claim: older claim tokens for this ticket stop working.
  claim_generation integer NOT NULL DEFAULT 0,
  claimed_at timestamptz,
  used_at timestamptz,
  revoked_at timestamptz,
  revoke_reason text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS invitation_ticket_registrant ON invitation_ticket (registrant_id, status);
-- At most one live (issued or claimed) ticket per person.
CREATE UNIQUE INDEX IF NOT EXISTS invitation_ticket_one_live ON invitation_ticket (registrant_id)
  WHERE status IN ('issued', 'claimed');
