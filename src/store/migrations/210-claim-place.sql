-- The booking claim's hot-row step, called last by the claim statement (src/scheduling/claim-statement.ts) after
-- every other write of the booking (booking row, FHIR Appointment, its history and index rows) is done: a slot's
-- row and its clinic's lot row are what every booking at that slot or clinic contends for, and a row lock lasts
-- until COMMIT, so taking them last keeps them only for two guarded UPDATEs and the commit flush.
--
-- The place: a guarded `taken + 1` (PostgreSQL re-checks `taken < capacity` on the latest row version after
-- waiting for the lock, so it can never overshoot). The dose: the lot the statement chose without a lock, guarded
-- the same way; when that lot ran out meanwhile, the next usable one (locked in the same order as everywhere:
-- slot, then lot). A refusal raises SQLSTATE VXC01 with the verdict as message, which undoes the whole statement
-- (or, inside a transaction, everything since the caller's savepoint).
CREATE OR REPLACE FUNCTION vaxhub_claim_place(
  p_slot text, p_location text, p_cvx text, p_start timestamptz, p_now timestamptz, p_appointment text,
  p_lot text, p_person integer, p_writes bigint
) RETURNS TABLE (taken integer, inventory_id text) AS $$
DECLARE
  v_taken integer;
  v_lot text;
BEGIN
  -- No booking row was written (the person already holds this dose, or no lot): nothing to take. p_writes only
  -- makes the caller's writes run before this call.
  IF p_person = 0 OR p_writes IS NULL THEN
    RETURN;
  END IF;
  UPDATE slot_capacity s SET taken = s.taken + 1, updated_at = p_now
    WHERE s.id = p_slot AND s.taken < s.capacity AND s.start_at > p_now
    RETURNING s.taken INTO v_taken;
  IF NOT FOUND THEN
    IF EXISTS (SELECT 1 FROM slot_hold h WHERE h.slot_id = p_slot AND h.expires_at <= p_now) THEN
      RAISE EXCEPTION USING ERRCODE = 'VXC01', MESSAGE = 'RECLAIM_SLOT';
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'VXC01', MESSAGE = 'SLOT_FULL';
  END IF;
  UPDATE inventory i SET reserved = i.reserved + 1, updated_at = p_now
    WHERE i.id = p_lot AND i.reserved < i.on_hand
    RETURNING i.id INTO v_lot;
  IF NOT FOUND THEN
    SELECT i.id INTO v_lot FROM inventory i
      WHERE i.location_id = p_location AND i.product_cvx = p_cvx AND i.reserved < i.on_hand
        AND (i.available_from IS NULL OR i.available_from <= p_start)
        AND (i.expires_on IS NULL OR i.expires_on >= p_start::date)
      ORDER BY i.expires_on NULLS LAST, i.available_from NULLS FIRST, i.id LIMIT 1 FOR UPDATE;
    IF NOT FOUND THEN
      RAISE EXCEPTION USING ERRCODE = 'VXC01', MESSAGE = 'NO_SUPPLY';
    END IF;
    UPDATE inventory i SET reserved = i.reserved + 1, updated_at = p_now WHERE i.id = v_lot;
    UPDATE booking b SET inventory_id = v_lot WHERE b.appointment_id = p_appointment;
  END IF;
  RETURN QUERY SELECT v_taken, v_lot;
END;
$$ LANGUAGE plpgsql;
