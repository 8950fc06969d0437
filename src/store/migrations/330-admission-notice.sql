-- Opening night (issue 9): "you may leave, we will email you when it is your turn". A place taken with a claimed
-- invitation remembers whose it is and the language the person waited in, so the hub can mail them once they
-- are admitted. Device places (no invitation) have no registrant and are never mailed.
ALTER TABLE waiting_room_entry ADD COLUMN IF NOT EXISTS registrant_id text;
ALTER TABLE waiting_room_entry ADD COLUMN IF NOT EXISTS language text;
-- The admission sweep looks up places by arrival number within a phase, only for people it can mail.
CREATE INDEX IF NOT EXISTS waiting_room_entry_registrant_arrival ON waiting_room_entry (event_id, phase, arrival_number)
  WHERE registrant_id IS NOT NULL;

-- How far (in queue positions) admission mails have been queued per event. Admission itself stays a function of
-- the event row and the clock; this row only remembers the sweep's progress, so each sweep reads just the places
-- admitted since the last one. Several hub processes share it: the one holding its row lock sweeps, the others
-- skip; the outbox's unique dedupe key is what makes a second mail for the same place impossible.
CREATE TABLE IF NOT EXISTS waiting_room_admission_notice (
  event_id text PRIMARY KEY REFERENCES waiting_room_event(id),
  notified_through bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);
