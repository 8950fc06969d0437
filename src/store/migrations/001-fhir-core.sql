-- Current version of every resource; rid is the stable internal key the index tables and keyset paging use.
CREATE TABLE IF NOT EXISTS fhir_resource (
  rid bigserial NOT NULL UNIQUE,
  resource_type text NOT NULL,
  id text NOT NULL,
  version_id integer NOT NULL,
  last_updated timestamptz NOT NULL,
  deleted boolean NOT NULL DEFAULT false,
  content jsonb NOT NULL,
  PRIMARY KEY (resource_type, id)
);
CREATE INDEX IF NOT EXISTS fhir_resource_type_updated ON fhir_resource (resource_type, last_updated);
CREATE INDEX IF NOT EXISTS fhir_resource_type_rid ON fhir_resource (resource_type, rid);

-- Every version ever written, deletes included (content of a delete is the last live content).
CREATE TABLE IF NOT EXISTS fhir_history (
  hid bigserial NOT NULL UNIQUE,
  resource_type text NOT NULL,
  id text NOT NULL,
  version_id integer NOT NULL,
  last_updated timestamptz NOT NULL,
  deleted boolean NOT NULL DEFAULT false,
  content jsonb NOT NULL,
  PRIMARY KEY (resource_type, id, version_id)
);
CREATE INDEX IF NOT EXISTS fhir_history_type_updated ON fhir_history (resource_type, last_updated);
CREATE INDEX IF NOT EXISTS fhir_history_updated ON fhir_history (last_updated);

-- Search indexes, extracted at write time from the R4 SearchParameter FHIRPath expressions.
CREATE TABLE IF NOT EXISTS sp_token (
  rid bigint NOT NULL,
  param text NOT NULL,
  system text,
  code text,
  display text
);
CREATE INDEX IF NOT EXISTS sp_token_lookup ON sp_token (param, code, system);
CREATE INDEX IF NOT EXISTS sp_token_rid ON sp_token (rid);

CREATE TABLE IF NOT EXISTS sp_string (
  rid bigint NOT NULL,
  param text NOT NULL,
  norm text NOT NULL,
  exact text NOT NULL
);
CREATE INDEX IF NOT EXISTS sp_string_lookup ON sp_string (param, norm text_pattern_ops);
CREATE INDEX IF NOT EXISTS sp_string_exact ON sp_string (param, exact);
CREATE INDEX IF NOT EXISTS sp_string_rid ON sp_string (rid);

CREATE TABLE IF NOT EXISTS sp_date (
  rid bigint NOT NULL,
  param text NOT NULL,
  lo timestamptz NOT NULL,
  hi timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS sp_date_lookup ON sp_date (param, lo, hi);
CREATE INDEX IF NOT EXISTS sp_date_rid ON sp_date (rid);

CREATE TABLE IF NOT EXISTS sp_reference (
  rid bigint NOT NULL,
  param text NOT NULL,
  target_type text,
  target_id text,
  url text
);
CREATE INDEX IF NOT EXISTS sp_reference_lookup ON sp_reference (param, target_id, target_type);
CREATE INDEX IF NOT EXISTS sp_reference_rid ON sp_reference (rid);

CREATE TABLE IF NOT EXISTS sp_number (
  rid bigint NOT NULL,
  param text NOT NULL,
  value numeric NOT NULL,
  system text,
  code text
);
CREATE INDEX IF NOT EXISTS sp_number_lookup ON sp_number (param, value);
CREATE INDEX IF NOT EXISTS sp_number_rid ON sp_number (rid);

-- Idempotency keys: a retried request answers the first result.
CREATE TABLE IF NOT EXISTS idempotency_key (
  key text PRIMARY KEY,
  scope text NOT NULL,
  status integer NOT NULL,
  body jsonb,
  headers jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
