-- Issue 21: the person whose clinic day was closed answers the place held for them on a public page, reached by a
-- link in the closure message. The link carries an HMAC of the offer under this key (one per hub database, never
-- made by a process of its own), so no token is stored; the answer is kept with the offer.
INSERT INTO opening_night_secret (name, secret)
  VALUES ('rebooking-offer', replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''))
  ON CONFLICT (name) DO NOTHING;
ALTER TABLE clinic_rebooking_offer ADD COLUMN IF NOT EXISTS answer text CHECK (answer IN ('accepted', 'chosen', 'declined'));
ALTER TABLE clinic_rebooking_offer ADD COLUMN IF NOT EXISTS answered_at timestamptz;
ALTER TABLE clinic_rebooking_offer ADD COLUMN IF NOT EXISTS booked_appointment_id text;
-- The sweep that gives lapsed places back looks for unanswered offers past their time.
CREATE INDEX IF NOT EXISTS clinic_rebooking_offer_open ON clinic_rebooking_offer (expires_at) WHERE answer IS NULL;
