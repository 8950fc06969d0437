-- The clinic day (src/clinic/): no-shows (so an undo can put things back exactly) and closed days.

-- One row per appointment marked no-show: the place it gave back went to a later slot the same day
-- (moved_to_slot_id; a started slot's place can no longer be booked), and the undo takes it back from there.
CREATE TABLE IF NOT EXISTS clinic_noshow (
  appointment_id text PRIMARY KEY,
  slot_id text NOT NULL,
  location_id text NOT NULL,
  moved_to_slot_id text,
  automatic boolean NOT NULL,
  marked_at timestamptz NOT NULL,
  marked_by text NOT NULL
);
CREATE INDEX IF NOT EXISTS clinic_noshow_location ON clinic_noshow (location_id, marked_at);

-- A clinic closed for a day (weather, supply): its slots offer no place, its people were told and re-placed.
CREATE TABLE IF NOT EXISTS clinic_closure (
  location_id text NOT NULL,
  day date NOT NULL,
  reason text NOT NULL,
  closed_at timestamptz NOT NULL,
  closed_by text NOT NULL,
  PRIMARY KEY (location_id, day)
);

-- The place a person whose day was closed is offered first: a held Appointment (slot_hold) kept longer than a
-- booking page's hold, released to everyone else when it lapses.
CREATE TABLE IF NOT EXISTS clinic_rebooking_offer (
  appointment_id text PRIMARY KEY,
  from_appointment_id text NOT NULL UNIQUE,
  location_id text NOT NULL,
  day date NOT NULL,
  expires_at timestamptz NOT NULL
);
