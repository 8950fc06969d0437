-- FHIR Bulk Data export (issue 7): one row per kick-off. The worker claims rows with FOR UPDATE SKIP LOCKED and
-- holds a lease while it writes; a job whose lease ran out (the hub died) is claimed again and restarted from
-- scratch, up to max_attempts, then failed cleanly with its reason.
CREATE TABLE IF NOT EXISTS bulk_export_job (
  id text PRIMARY KEY,
  -- The OAuth client that started the job ('operator' for the admin token): only it may poll or download.
  client_id text NOT NULL,
  -- The kick-off URL as the client sent it (manifest.request).
  request_url text NOT NULL,
  -- The resolved export plan: types, _since, _typeFilter, _elements, patient set (snapshotted at kick-off).
  plan jsonb NOT NULL,
  transaction_time timestamptz NOT NULL,
  status text NOT NULL DEFAULT 'accepted'
    CHECK (status IN ('accepted', 'in-progress', 'completed', 'failed', 'cancelled')),
  progress text,
  resources_written bigint NOT NULL DEFAULT 0,
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL DEFAULT 3,
  lease_until timestamptz,
  -- The OperationOutcome of a failed job (the status endpoint answers it with 500).
  failure jsonb,
  last_polled_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  -- Files are deleted and the job forgotten after this instant.
  expires_at timestamptz
);
CREATE INDEX IF NOT EXISTS bulk_export_job_runnable ON bulk_export_job (status, lease_until);
CREATE INDEX IF NOT EXISTS bulk_export_job_client ON bulk_export_job (client_id, created_at);

-- The NDJSON files a job wrote (under DATA_DIR/exports/<job id>/).
CREATE TABLE IF NOT EXISTS bulk_export_file (
  job_id text NOT NULL REFERENCES bulk_export_job (id) ON DELETE CASCADE,
  name text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('output', 'error', 'deleted')),
  resource_type text NOT NULL,
  count bigint NOT NULL,
  bytes bigint NOT NULL,
  PRIMARY KEY (job_id, name)
);
