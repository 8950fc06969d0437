-- Issue 21: a drawn person who cannot be told by mail or text (registered for a letter by post or to collect at the
-- clinic, or with a phone only on a hub with no SMS gateway) is not left untold: the draw queues their invitation
-- here, in the draw's own transaction, for staff to print and post or hand over. One row per invitation ticket;
-- `done_*` says when and by whom it was printed, posted or handed over (the front desk's pending list is the rows
-- without it). No ticket secret is kept: staff book for the person at the desk with the invitation itself.
CREATE TABLE IF NOT EXISTS invitation_letter (
  id text PRIMARY KEY,
  ticket_ref text NOT NULL UNIQUE REFERENCES invitation_ticket(ref),
  registrant_id text NOT NULL REFERENCES registrant(id),
  -- How it reaches the person: 'post' (to their address) or 'clinic' (they call or come to the desk).
  channel text NOT NULL CHECK (channel IN ('post', 'clinic')),
  -- Why staff have it: 'chosen' (the person's own choice at registration) or 'no-sms-gateway' (phone only, no texting).
  why text NOT NULL CHECK (why IN ('chosen', 'no-sms-gateway')),
  created_at timestamptz NOT NULL,
  done_at timestamptz,
  done_how text CHECK (done_how IN ('printed', 'posted', 'handed-over')),
  done_by text
);
CREATE INDEX IF NOT EXISTS invitation_letter_pending ON invitation_letter (created_at) WHERE done_at IS NULL;
