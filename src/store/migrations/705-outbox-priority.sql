-- Priority classes in the mail outbox (issue 20): sign-in codes and booking confirmations were sent 53-72 s late,
-- behind 400 invitations, because the worker took the oldest row first. Each row now carries its class
-- (src/notify/priority.ts: 0 urgent, 1 transactional, 2 bulk; lower goes first) and the worker claims the highest
-- class due first, each class at its own rate.
-- Rows written without a class (a module's raw INSERT) are transactional: the bulk writers (invitations, reminders)
-- name theirs.
ALTER TABLE notification_outbox ADD COLUMN IF NOT EXISTS priority smallint NOT NULL DEFAULT 1;
-- When the row first became due, stamped by its first claim (before a retry moves next_attempt_at): the start of
-- the vaxhub_mail_send_delay_seconds metric.
ALTER TABLE notification_outbox ADD COLUMN IF NOT EXISTS first_due_at timestamptz;
-- Mail already waiting when this migration runs gets the class its kind has from now on.
UPDATE notification_outbox
   SET priority = CASE WHEN kind = 'one-time-code' THEN 0
                       WHEN kind IN ('invitation', 'appointment-reminder', 'reminder') THEN 2
                       ELSE 1 END
 WHERE status = 'pending' AND priority = 1;
-- The claim: per class, due rows oldest first (FOR UPDATE SKIP LOCKED). Supersedes notification_outbox_due.
CREATE INDEX IF NOT EXISTS notification_outbox_claim ON notification_outbox (priority, next_attempt_at, created_at) WHERE status = 'pending';
DROP INDEX IF EXISTS notification_outbox_due;
