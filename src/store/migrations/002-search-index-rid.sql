-- Search lookups carry the rid as the last key column, so a search on one parameter walks the index in rid order
-- (the keyset order of an unsorted search) and stops after one page, reading neither the index table's heap nor
-- every match. They replace the 001 lookups, which are a prefix of them (same lookups, no extra write cost).
CREATE INDEX IF NOT EXISTS sp_reference_lookup_rid ON sp_reference (param, target_id, target_type, rid);
DROP INDEX IF EXISTS sp_reference_lookup;
CREATE INDEX IF NOT EXISTS sp_token_lookup_rid ON sp_token (param, code, system, rid);
DROP INDEX IF EXISTS sp_token_lookup;
