-- Scheduling: the guarded counters are the truth; FHIR Slot status and slot-capacity are derived from them.

-- One bookable time block (a FHIR Slot) with its places. `taken` counts booked places plus holds that have
-- not been reclaimed yet; the reservation statement reclaims expired holds itself (see src/scheduling/capacity.ts).
CREATE TABLE IF NOT EXISTS slot_capacity (
  id text PRIMARY KEY,
  schedule_id text NOT NULL,
  location_id text NOT NULL,
  product_cvx text NOT NULL,
  dose_number integer,
  start_at timestamptz NOT NULL,
  end_at timestamptz NOT NULL,
  capacity integer NOT NULL CHECK (capacity >= 0),
  taken integer NOT NULL DEFAULT 0 CHECK (taken >= 0),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (end_at > start_at)
);
CREATE INDEX IF NOT EXISTS slot_capacity_start ON slot_capacity (start_at, id);
CREATE INDEX IF NOT EXISTS slot_capacity_location_start ON slot_capacity (location_id, start_at);
CREATE INDEX IF NOT EXISTS slot_capacity_schedule ON slot_capacity (schedule_id, start_at);
CREATE INDEX IF NOT EXISTS slot_capacity_updated ON slot_capacity (updated_at);

-- A place taken for a short time ($hold); counted in slot_capacity.taken until confirmed or reclaimed.
CREATE TABLE IF NOT EXISTS slot_hold (
  appointment_id text PRIMARY KEY,
  slot_id text NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS slot_hold_slot_expiry ON slot_hold (slot_id, expires_at);

-- Doses per location, product and lot. Stock received has available_from NULL; a confirmed delivery is a row
-- whose doses count only for appointments at or after its expected arrival (available_from).
CREATE TABLE IF NOT EXISTS inventory (
  id text PRIMARY KEY,
  location_id text NOT NULL,
  product_cvx text NOT NULL,
  mvx text,
  ndc text,
  lot text NOT NULL,
  expires_on date,
  on_hand integer NOT NULL CHECK (on_hand >= 0),
  reserved integer NOT NULL DEFAULT 0 CHECK (reserved >= 0),
  available_from timestamptz,
  delivery_id text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (reserved <= on_hand)
);
CREATE INDEX IF NOT EXISTS inventory_location_product ON inventory (location_id, product_cvx);
CREATE UNIQUE INDEX IF NOT EXISTS inventory_delivery ON inventory (delivery_id) WHERE delivery_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS delivery (
  id text PRIMARY KEY,
  location_id text NOT NULL,
  product_cvx text NOT NULL,
  mvx text,
  ndc text,
  lot text NOT NULL,
  expires_on date,
  doses integer NOT NULL CHECK (doses > 0),
  expected_at timestamptz NOT NULL,
  status text NOT NULL CHECK (status IN ('expected', 'confirmed', 'late', 'received', 'cancelled')),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per held/booked Appointment. The partial unique index is the "one person, one active appointment per
-- dose of a series" rule, enforced by the database rather than by a read-then-write check.
CREATE TABLE IF NOT EXISTS booking (
  appointment_id text PRIMARY KEY,
  slot_id text NOT NULL,
  location_id text NOT NULL,
  product_cvx text NOT NULL,
  series text NOT NULL,
  dose_number integer NOT NULL CHECK (dose_number >= 1),
  patient_id text,
  inventory_id text,
  start_at timestamptz NOT NULL,
  status text NOT NULL CHECK (status IN ('held', 'booked', 'checked-in', 'fulfilled', 'cancelled', 'expired')),
  active boolean NOT NULL DEFAULT true,
  supply_risk text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS booking_one_per_person_dose ON booking (patient_id, series, dose_number)
  WHERE active AND patient_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS booking_slot ON booking (slot_id) WHERE active;
CREATE INDEX IF NOT EXISTS booking_inventory ON booking (inventory_id) WHERE active;
CREATE INDEX IF NOT EXISTS booking_patient ON booking (patient_id, series);

-- Durable outbox for messages to people (kept generic; the notify module sends it).
CREATE TABLE IF NOT EXISTS notification_outbox (
  id text PRIMARY KEY,
  kind text NOT NULL,
  recipient_patient_id text,
  payload jsonb NOT NULL,
  dedupe_key text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz
);
CREATE INDEX IF NOT EXISTS notification_outbox_unsent ON notification_outbox (created_at) WHERE sent_at IS NULL;
