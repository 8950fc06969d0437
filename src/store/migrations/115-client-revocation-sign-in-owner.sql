-- Issue 16: a deleted or disabled client's tokens stop at once; sign-in contacts have one proven owner.

-- A disabled client is treated as unknown by every OAuth endpoint until an operator enables it again.
ALTER TABLE auth_client ADD COLUMN IF NOT EXISTS disabled_at timestamptz;

-- Tokens of this client issued at or before not_before are revoked (written when the client is deleted or disabled).
-- Kept after the client row is gone, so re-registering the same id never brings old tokens back. System tokens carry
-- no grant, so this row (checked with the revoked-jti list on every use) is what stops them.
CREATE TABLE IF NOT EXISTS auth_client_cutoff (
  client_id text PRIMARY KEY,
  not_before timestamptz NOT NULL
);

-- Who a sign-in contact ('email:<address>' or 'phone:<digits>') belongs to. verified_at: a code sent to the contact
-- was entered (the person proved they read it); NULL: claimed by a self-registration, unproven. Registration claims a
-- contact only when no Patient holds it yet (so it never creates a second holder), and sign-in prefers the verified
-- owner among the Patients holding a contact, so a record given the same address later cannot lock the owner out.
CREATE TABLE IF NOT EXISTS contact_owner (
  contact text PRIMARY KEY,
  patient_id text NOT NULL,
  verified_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
