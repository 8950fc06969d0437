-- Staff accounts: the people who run the hub and sign in to the admin console (SMART standalone launch with
-- user/ scopes, one-time code to the account's email). Each has a Practitioner the hub created for them, which is
-- the fhirUser of their tokens. Accounts are disabled, never deleted, so audit entries naming the Practitioner
-- keep pointing at someone.
CREATE TABLE IF NOT EXISTS staff_account (
  id text PRIMARY KEY,
  -- normalised: trimmed, lower-case
  email text NOT NULL,
  display_name text NOT NULL,
  role text NOT NULL,
  practitioner_id text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  disabled_at timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS staff_account_email ON staff_account (email);
CREATE UNIQUE INDEX IF NOT EXISTS staff_account_practitioner ON staff_account (practitioner_id);
-- The roles the code knows (src/auth/staff.ts STAFF_ROLES). A new role is a new migration that replaces this check.
ALTER TABLE staff_account DROP CONSTRAINT IF EXISTS staff_account_role_known;
ALTER TABLE staff_account ADD CONSTRAINT staff_account_role_known CHECK (role IN ('operator'));

-- A pending authorization request signed in by a staff member (instead of a patient), and the grant it produced.
ALTER TABLE auth_request ADD COLUMN IF NOT EXISTS staff_id text;
ALTER TABLE auth_grant ADD COLUMN IF NOT EXISTS staff_id text;
CREATE INDEX IF NOT EXISTS auth_grant_staff ON auth_grant (staff_id) WHERE staff_id IS NOT NULL;
