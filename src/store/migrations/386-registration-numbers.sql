-- Issue 21: short registration numbers people are shown and type (`R-ABCD-EFGH`, src/scheduling/booking-reference.ts),
-- made like booking references: numbers drawn a block at a time, permuted under a key written here once. The
-- registrant's UUID stays its key; `number` is what people see. An echo of a repeated registration (which must read
-- like a new one) gets a number from the same sequence, so no number is ever both. Rows older than this migration
-- are given one at hub start-up (registration-number-backfill.ts) or by `vaxhub references backfill`.
CREATE SEQUENCE IF NOT EXISTS registration_number_block START WITH 1;
INSERT INTO opening_night_secret (name, secret)
  VALUES ('registration-number', replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''))
  ON CONFLICT (name) DO NOTHING;
ALTER TABLE registrant ADD COLUMN IF NOT EXISTS number text;
CREATE UNIQUE INDEX IF NOT EXISTS registrant_number ON registrant (number);
ALTER TABLE registration_echo ADD COLUMN IF NOT EXISTS number text;
CREATE UNIQUE INDEX IF NOT EXISTS registration_echo_number ON registration_echo (number);
