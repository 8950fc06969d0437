-- EHR connector (issue 7): the hub's own Backend Services client keys (public half served as a JWK Set URL),
-- connections to EHRs, links between hub and EHR patients, the review queue for uncertain matches, what was
-- pushed, and per-connection sync state.
CREATE TABLE IF NOT EXISTS ehr_client_key (
  kid text PRIMARY KEY,
  alg text NOT NULL CHECK (alg IN ('RS384', 'ES384')),
  private_jwk jsonb NOT NULL,
  public_jwk jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- Retired keys stay published a while so assertions in flight still verify.
  retired_at timestamptz
);

CREATE TABLE IF NOT EXISTS ehr_connection (
  name text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  fhir_base text NOT NULL,
  token_url text NOT NULL,
  client_id text NOT NULL,
  scope text NOT NULL,
  -- The hub key this connection signs with (null: the newest active key).
  kid text REFERENCES ehr_client_key (kid),
  -- search: per-patient Patient/Immunization search; bulk: Group $export import.
  pull_mode text NOT NULL DEFAULT 'search' CHECK (pull_mode IN ('search', 'bulk', 'none')),
  -- The EHR Group exported in bulk mode.
  group_id text,
  -- Immunizations on or after this date are pulled (Epic needs a date window).
  since_date date NOT NULL DEFAULT '2020-12-01',
  -- none, or fhir: booked Appointments and given doses are created in the EHR.
  push_mode text NOT NULL DEFAULT 'none' CHECK (push_mode IN ('none', 'fhir')),
  -- Background schedule; null: only on demand (CLI, admin route).
  interval_s integer CHECK (interval_s IS NULL OR interval_s >= 10),
  enabled boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS ehr_sync_state (
  connection text PRIMARY KEY REFERENCES ehr_connection (name) ON DELETE CASCADE,
  -- transactionTime / start of the last successful pull: the next incremental window starts here.
  cursor text,
  running_since timestamptz,
  last_run_at timestamptz,
  last_success_at timestamptz,
  last_error text,
  stats jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE IF NOT EXISTS ehr_patient_link (
  connection text NOT NULL REFERENCES ehr_connection (name) ON DELETE CASCADE,
  hub_patient_id text NOT NULL,
  ehr_patient_id text NOT NULL,
  matched_by text NOT NULL CHECK (matched_by IN ('identifier', 'demographics', 'review')),
  linked_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (connection, hub_patient_id),
  UNIQUE (connection, ehr_patient_id)
);

CREATE TABLE IF NOT EXISTS ehr_match_review (
  id bigserial PRIMARY KEY,
  connection text NOT NULL REFERENCES ehr_connection (name) ON DELETE CASCADE,
  hub_patient_id text NOT NULL,
  ehr_patient_ids text[] NOT NULL,
  reason text NOT NULL,
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'linked', 'rejected')),
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (connection, hub_patient_id)
);

CREATE TABLE IF NOT EXISTS ehr_push_log (
  connection text NOT NULL REFERENCES ehr_connection (name) ON DELETE CASCADE,
  resource_type text NOT NULL,
  resource_id text NOT NULL,
  version_id integer NOT NULL,
  ehr_location text,
  pushed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (connection, resource_type, resource_id)
);
