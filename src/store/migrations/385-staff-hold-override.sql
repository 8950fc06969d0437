-- Issue 21: a staff `$hold` outside the fairness rules needs a reason, which is audited. The hold remembers it, so
-- that the `$book` (or PUT to booked) confirming that hold for the same person is not asked for it a second time
-- (and is audited again, citing the hold's reason). One row per held Appointment; read only while it is a hold.
CREATE TABLE IF NOT EXISTS staff_hold_override (
  appointment_id text PRIMARY KEY,
  patient_id text,
  reason text NOT NULL,
  problems text NOT NULL,
  staff text,
  created_at timestamptz NOT NULL DEFAULT now()
);
