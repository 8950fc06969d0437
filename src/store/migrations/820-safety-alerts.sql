-- Serious adverse events the operators must see (src/safety/alerts.ts): one row per AdverseEvent, raised in the
-- transaction that recorded (or upgraded) it, shown in the operator console until someone acknowledges it. The
-- operators' mail about it goes through the notification outbox in the same transaction.
CREATE TABLE IF NOT EXISTS safety_alert (
  adverse_event_id text PRIMARY KEY,
  patient_id text,
  location_id text,
  seriousness text,
  symptoms text[] NOT NULL DEFAULT '{}',
  patient_reported boolean NOT NULL DEFAULT false,
  onset text,
  raised_at timestamptz NOT NULL,
  acknowledged_at timestamptz,
  acknowledged_by text
);
CREATE INDEX IF NOT EXISTS safety_alert_open ON safety_alert (raised_at) WHERE acknowledged_at IS NULL;
