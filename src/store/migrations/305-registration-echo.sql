-- Issue 16: a repeated registration (same name and birth date) answers like a new one. The answer's registrant id
-- is an echo: no registrant, no Patient, excluded from every draw; its status reads "registered" like any other.
-- The person already registered is mailed instead.
CREATE TABLE IF NOT EXISTS registration_echo (
  id text PRIMARY KEY,
  birth_date date NOT NULL,
  tier text,
  created_at timestamptz NOT NULL DEFAULT now()
);
