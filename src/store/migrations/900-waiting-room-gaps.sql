-- Several hub nodes (issue 25): arrival numbers a node reserved in a block and never handed out (a retired block's
-- tail, a lost join race) are gaps the frontier must be credited for once it passes them, or admission would spend
-- time on numbers that are nobody. They used to wait in the reserving process's memory, so a node killed with
-- kill -9 took its uncredited gaps with it and admission ran slow by that many places. They are rows now, credited
-- by whichever node refreshes the event first (rows locked FOR UPDATE SKIP LOCKED, each credited once).
-- `position`: the queue position the number holds; for an open-phase number pre_count + number (known when it is
-- written), for a pre-queue number its place in the shuffle, filled in by the first node to look after opening.
CREATE TABLE IF NOT EXISTS waiting_room_gap (
  event_id text NOT NULL REFERENCES waiting_room_event(id),
  phase text NOT NULL CHECK (phase IN ('pre', 'open')),
  first_number bigint NOT NULL,
  count bigint NOT NULL CHECK (count > 0),
  position bigint,
  PRIMARY KEY (event_id, phase, first_number)
);
CREATE INDEX IF NOT EXISTS waiting_room_gap_position ON waiting_room_gap (event_id, position);
-- How many gap positions the frontier has been credited for, in all: people admitted = frontier - this.
ALTER TABLE waiting_room_event ADD COLUMN IF NOT EXISTS gaps_credited bigint NOT NULL DEFAULT 0;
