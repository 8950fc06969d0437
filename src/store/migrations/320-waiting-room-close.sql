-- Opening night (issue 5): an operator closes a waiting-room event when its opening is over. While an event is not
-- closed (including its pre-queue before opening), the booking gate requires admission through it.
ALTER TABLE waiting_room_event ADD COLUMN IF NOT EXISTS closed_at timestamptz;
CREATE INDEX IF NOT EXISTS waiting_room_event_open ON waiting_room_event (opens_at) WHERE closed_at IS NULL;
