-- Durable mail outbox (issue 5). The table itself was created by 200-scheduling.sql (id, kind,
-- recipient_patient_id, payload, dedupe_key UNIQUE, created_at, sent_at); this migration extends it for the
-- sending worker rather than creating a second outbox.
-- A row is written in the same transaction as the change it reports; a worker claims rows with
-- FOR UPDATE SKIP LOCKED and a lease. dedupe_key makes enqueueing the same event twice a no-op; message_id
-- (RFC 5322 Message-ID) is fixed when the row is written (the column default covers rows written by other
-- modules), so a resend after a crash is recognisable by the receiving side as the same message.
-- Rendered mail; NULL when a module only wrote kind + payload (the worker then asks that kind's renderer).
ALTER TABLE notification_outbox ADD COLUMN IF NOT EXISTS recipient text;
ALTER TABLE notification_outbox ADD COLUMN IF NOT EXISTS subject text;
ALTER TABLE notification_outbox ADD COLUMN IF NOT EXISTS body text;
ALTER TABLE notification_outbox ADD COLUMN IF NOT EXISTS message_id text NOT NULL
  DEFAULT ('<' || gen_random_uuid()::text || '@outbox.vaxhub>');
-- pending -> sent, or dead after max_attempts (kept, with last_error, for an operator to look at).
ALTER TABLE notification_outbox ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'pending';
ALTER TABLE notification_outbox ADD COLUMN IF NOT EXISTS attempts integer NOT NULL DEFAULT 0;
ALTER TABLE notification_outbox ADD COLUMN IF NOT EXISTS max_attempts integer NOT NULL DEFAULT 8;
ALTER TABLE notification_outbox ADD COLUMN IF NOT EXISTS next_attempt_at timestamptz NOT NULL DEFAULT now();
-- Lease of the worker that claimed the row; a crashed worker's rows come back once it passes.
ALTER TABLE notification_outbox ADD COLUMN IF NOT EXISTS locked_until timestamptz;
ALTER TABLE notification_outbox ADD COLUMN IF NOT EXISTS lease_token text;
ALTER TABLE notification_outbox ADD COLUMN IF NOT EXISTS last_error text;
CREATE UNIQUE INDEX IF NOT EXISTS notification_outbox_message_id ON notification_outbox (message_id);
CREATE INDEX IF NOT EXISTS notification_outbox_due ON notification_outbox (next_attempt_at) WHERE status = 'pending';
