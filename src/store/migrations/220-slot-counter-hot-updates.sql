-- Every place taken or given back updates its slot_capacity row (taken, updated_at), under that row's lock. The
-- index on updated_at, which no query uses, made each of those updates write a new entry into all five of the
-- table's indexes instead of a heap-only (HOT) update that touches none. Free space on each page (fillfactor)
-- lets the new row version stay on its page, which HOT needs; it applies to pages written from now on. The lot
-- rows (inventory) are updated the same way on every booking.
DROP INDEX IF EXISTS slot_capacity_updated;
ALTER TABLE slot_capacity SET (fillfactor = 70);
ALTER TABLE inventory SET (fillfactor = 70);
