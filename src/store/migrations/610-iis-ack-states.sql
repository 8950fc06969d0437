-- Registry answers as registries really give them (issue 18): an AE whose errors do not reject the record means the
-- registry kept what it could, a state of its own ('accepted-with-errors', what was dropped is in errors); and an
-- operator may resend a rejected message, which the event log records as 'operator-resend'.
ALTER TABLE iis_message DROP CONSTRAINT IF EXISTS iis_message_state_check;
ALTER TABLE iis_message ADD CONSTRAINT iis_message_state_check
  CHECK (state IN ('queued', 'sending', 'accepted', 'accepted-with-warnings', 'accepted-with-errors', 'rejected', 'dead'));
ALTER TABLE iis_message_event DROP CONSTRAINT IF EXISTS iis_message_event_kind_check;
ALTER TABLE iis_message_event ADD CONSTRAINT iis_message_event_kind_check
  CHECK (kind IN ('sent', 'answer', 'failure', 'operator-retry', 'operator-resend'));
