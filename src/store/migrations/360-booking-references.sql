-- Issue 21: short booking references (src/scheduling/booking-reference.ts). Numbers are drawn a block at a time;
-- the key that permutes them is written here once, so every hub process shares it and none makes its own.
CREATE SEQUENCE IF NOT EXISTS booking_reference_block START WITH 1;
INSERT INTO opening_night_secret (name, secret)
  VALUES ('booking-reference', replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''))
  ON CONFLICT (name) DO NOTHING;

-- Staff register people who have no email or phone (issue 21): their confirmation goes by post or is collected at
-- the clinic. The registrant's contact rule becomes "a way to reach them", and the address they gave is kept.
ALTER TABLE registrant DROP CONSTRAINT IF EXISTS registrant_check;
ALTER TABLE registrant ADD COLUMN IF NOT EXISTS confirmation_by text;
ALTER TABLE registrant ADD COLUMN IF NOT EXISTS registered_by_staff text;
ALTER TABLE registrant DROP CONSTRAINT IF EXISTS registrant_reachable;
ALTER TABLE registrant ADD CONSTRAINT registrant_reachable
  CHECK (email IS NOT NULL OR phone IS NOT NULL OR confirmation_by IN ('post', 'clinic'));
