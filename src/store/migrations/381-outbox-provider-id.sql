-- Issue 21: texts sent through an HTTP SMS gateway (src/notify/sms.ts) keep the gateway's id for the message (Twilio's
-- `sid`), so a delivery question can be traced from the outbox row to the gateway's own log.
ALTER TABLE notification_outbox ADD COLUMN IF NOT EXISTS provider_message_id text;
