-- vaxhub_claim_batch (migration 230) with cheaper Appointment writes; what it decides and in which order it locks
-- are unchanged (see 230's header).
--
-- Why: measured on the benchmark machine, a group of 32 claims with their Appointments cost PostgreSQL ~330 us a
-- claim, of which ~130 us were the index-row inserts. Each of those five statements looked up every new
-- Appointment's rid by primary key and subscripted the group's array of resources and index rows per row (an
-- array of ~1 kB values, flattened again for each statement), and ran even when no claim had rows for its table
-- (an Appointment has no string or number index rows). Now the rids come back from the insert itself (RETURNING),
-- the history row is written in the same statement, index rows are read straight from the items, and an index
-- table without rows in the group is skipped.
CREATE OR REPLACE FUNCTION vaxhub_claim_batch(p_items jsonb, p_now timestamptz)
RETURNS TABLE (o_appointment_id text, o_verdict text, o_inventory_id text, o_taken integer, o_conflict_slot_id text) AS $$
DECLARE
  n integer := jsonb_array_length(p_items);
  v_appt text[]; v_slot text[]; v_loc text[]; v_cvx text[]; v_series text[]; v_dose integer[]; v_patient text[];
  v_start timestamptz[]; v_status text[]; v_hold timestamptz[]; v_has_res boolean[];
  v_rid bigint[];
  v_any jsonb;
  v_idem_key text[]; v_idem_status integer[]; v_idem_body jsonb[];
  -- Per claim: NULL while it stands, else the refusal; the lot; places taken after it; a lapsed hold's slot.
  v_verdict text[] := array_fill(NULL::text, ARRAY[n]);
  v_lot text[] := array_fill(NULL::text, ARRAY[n]);
  v_taken integer[] := array_fill(NULL::integer, ARRAY[n]);
  v_conflict text[] := array_fill(NULL::text, ARRAY[n]);
  v_written boolean[] := array_fill(false, ARRAY[n]);
  v_undo text[];
  g integer;
  grp record;
  v_id text;
  v_cur integer;
  v_cap integer;
  v_slot_start timestamptz;
  v_grant integer;
  v_k integer;
  v_i integer;
BEGIN
  IF n = 0 THEN
    RETURN;
  END IF;
  SELECT array_agg(x.appt ORDER BY e.ord), array_agg(x.slot ORDER BY e.ord), array_agg(x.loc ORDER BY e.ord),
         array_agg(x.cvx ORDER BY e.ord), array_agg(x.series ORDER BY e.ord), array_agg(x.dose ORDER BY e.ord),
         array_agg(x.patient ORDER BY e.ord), array_agg(x.start ORDER BY e.ord), array_agg(x.status ORDER BY e.ord),
         array_agg(x.hold_expires ORDER BY e.ord), array_agg(jsonb_typeof(e.item->'resource') = 'object' ORDER BY e.ord),
         array_agg(x.idem_key ORDER BY e.ord), array_agg(x.idem_status ORDER BY e.ord), array_agg(x.idem_body ORDER BY e.ord)
    INTO v_appt, v_slot, v_loc, v_cvx, v_series, v_dose, v_patient, v_start, v_status, v_hold, v_has_res,
         v_idem_key, v_idem_status, v_idem_body
    FROM jsonb_array_elements(p_items) WITH ORDINALITY AS e(item, ord)
    CROSS JOIN LATERAL jsonb_to_record(e.item) AS x(appt text, slot text, loc text, cvx text, series text, dose integer,
         patient text, start timestamptz, status text, hold_expires timestamptz,
         idem_key text, idem_status integer, idem_body jsonb);
  -- Which index tables the group has rows for at all (an empty INSERT ... SELECT still costs a statement).
  SELECT jsonb_build_object(
           'token', bool_or(jsonb_array_length(COALESCE(e.item->'ix'->'token', '[]')) > 0),
           'string', bool_or(jsonb_array_length(COALESCE(e.item->'ix'->'string', '[]')) > 0),
           'date', bool_or(jsonb_array_length(COALESCE(e.item->'ix'->'date', '[]')) > 0),
           'reference', bool_or(jsonb_array_length(COALESCE(e.item->'ix'->'reference', '[]')) > 0),
           'number', bool_or(jsonb_array_length(COALESCE(e.item->'ix'->'number', '[]')) > 0))
    INTO v_any FROM jsonb_array_elements(p_items) AS e(item);

  -- 1. Lot guess and person, in (patient, series, dose) order.
  FOR g IN SELECT s.g FROM generate_series(1, n) AS s(g) ORDER BY v_patient[s.g] NULLS LAST, v_series[s.g], v_dose[s.g], s.g LOOP
    SELECT i.id INTO v_id FROM inventory i
      WHERE i.location_id = v_loc[g] AND i.product_cvx = v_cvx[g] AND i.reserved < i.on_hand
        AND (i.available_from IS NULL OR i.available_from <= v_start[g])
        AND (i.expires_on IS NULL OR i.expires_on >= v_start[g]::date)
      ORDER BY i.expires_on NULLS LAST, i.available_from NULLS FIRST, i.id LIMIT 1;
    IF NOT FOUND THEN
      v_verdict[g] := CASE
        WHEN EXISTS (SELECT 1 FROM slot_capacity c WHERE c.id = v_slot[g] AND c.taken < c.capacity AND c.start_at > p_now) THEN 'NO_SUPPLY'
        WHEN EXISTS (SELECT 1 FROM slot_hold h WHERE h.slot_id = v_slot[g] AND h.expires_at <= p_now) THEN 'RECLAIM_SLOT'
        ELSE 'SLOT_FULL' END;
      CONTINUE;
    END IF;
    INSERT INTO booking (appointment_id, slot_id, location_id, product_cvx, series, dose_number, patient_id,
                         inventory_id, start_at, status, created_at, updated_at)
      VALUES (v_appt[g], v_slot[g], v_loc[g], v_cvx[g], v_series[g], v_dose[g], v_patient[g], v_id, v_start[g], v_status[g], p_now, p_now)
      ON CONFLICT (patient_id, series, dose_number) WHERE active AND patient_id IS NOT NULL DO NOTHING;
    IF NOT FOUND THEN
      SELECT b.slot_id INTO v_id FROM booking b JOIN slot_hold h ON h.appointment_id = b.appointment_id
        WHERE b.patient_id = v_patient[g] AND b.series = v_series[g] AND b.dose_number = v_dose[g] AND b.active
          AND b.status = 'held' AND h.expires_at <= p_now LIMIT 1;
      IF FOUND THEN
        v_verdict[g] := 'RECLAIM_PERSON';
        v_conflict[g] := v_id;
      ELSE
        v_verdict[g] := 'ALREADY_BOOKED';
      END IF;
      CONTINUE;
    END IF;
    v_lot[g] := v_id;
    v_written[g] := true;
  END LOOP;

  -- 2. Appointments and holds of the claims still standing. The rows' rids come back from the insert (no lookup
  -- per index row); index rows are read straight from the items, one statement per index table that has any.
  WITH ins AS (
    INSERT INTO fhir_resource (resource_type, id, version_id, last_updated, deleted, content)
      SELECT e.item->'resource'->>'resourceType', v_appt[e.g], 1, (e.item->'resource'->'meta'->>'lastUpdated')::timestamptz, false, e.item->'resource'
        FROM jsonb_array_elements(p_items) WITH ORDINALITY AS e(item, g)
       WHERE v_written[e.g] AND v_has_res[e.g]
    RETURNING rid, resource_type, id, last_updated, content
  ), hist AS (
    INSERT INTO fhir_history (resource_type, id, version_id, last_updated, deleted, content)
      SELECT i.resource_type, i.id, 1, i.last_updated, false, i.content FROM ins i
  )
  SELECT array_agg(i.rid ORDER BY s.g) INTO v_rid FROM generate_series(1, n) AS s(g) LEFT JOIN ins i ON i.id = v_appt[s.g];
  IF (v_any->>'token')::boolean THEN
    INSERT INTO sp_token (rid, param, system, code, display)
      SELECT v_rid[e.g], t.param, t.system, t.code, t.display
        FROM jsonb_array_elements(p_items) WITH ORDINALITY AS e(item, g)
        CROSS JOIN LATERAL jsonb_to_recordset(e.item->'ix'->'token') AS t(param text, system text, code text, display text)
       WHERE v_rid[e.g] IS NOT NULL;
  END IF;
  IF (v_any->>'string')::boolean THEN
    INSERT INTO sp_string (rid, param, norm, exact)
      SELECT v_rid[e.g], t.param, t.norm, t.exact
        FROM jsonb_array_elements(p_items) WITH ORDINALITY AS e(item, g)
        CROSS JOIN LATERAL jsonb_to_recordset(e.item->'ix'->'string') AS t(param text, norm text, exact text)
       WHERE v_rid[e.g] IS NOT NULL;
  END IF;
  IF (v_any->>'date')::boolean THEN
    INSERT INTO sp_date (rid, param, lo, hi)
      SELECT v_rid[e.g], t.param, t.lo, t.hi
        FROM jsonb_array_elements(p_items) WITH ORDINALITY AS e(item, g)
        CROSS JOIN LATERAL jsonb_to_recordset(e.item->'ix'->'date') AS t(param text, lo timestamptz, hi timestamptz)
       WHERE v_rid[e.g] IS NOT NULL;
  END IF;
  IF (v_any->>'reference')::boolean THEN
    INSERT INTO sp_reference (rid, param, target_type, target_id, url)
      SELECT v_rid[e.g], t.param, t.target_type, t.target_id, t.url
        FROM jsonb_array_elements(p_items) WITH ORDINALITY AS e(item, g)
        CROSS JOIN LATERAL jsonb_to_recordset(e.item->'ix'->'reference') AS t(param text, target_type text, target_id text, url text)
       WHERE v_rid[e.g] IS NOT NULL;
  END IF;
  IF (v_any->>'number')::boolean THEN
    INSERT INTO sp_number (rid, param, value, system, code)
      SELECT v_rid[e.g], t.param, t.value, t.system, t.code
        FROM jsonb_array_elements(p_items) WITH ORDINALITY AS e(item, g)
        CROSS JOIN LATERAL jsonb_to_recordset(e.item->'ix'->'number') AS t(param text, value numeric, system text, code text)
       WHERE v_rid[e.g] IS NOT NULL;
  END IF;
  INSERT INTO slot_hold (appointment_id, slot_id, expires_at)
    SELECT v_appt[s.g], v_slot[s.g], v_hold[s.g] FROM generate_series(1, n) AS s(g) WHERE v_written[s.g] AND v_hold[s.g] IS NOT NULL;

  -- 3. Places, slot by slot in id order. FOR UPDATE waits for a concurrent writer and reads the row as it left it.
  FOR grp IN SELECT v_slot[s.g] AS slot_id, array_agg(s.g ORDER BY s.g) AS members
               FROM generate_series(1, n) AS s(g) WHERE v_written[s.g] GROUP BY v_slot[s.g] ORDER BY v_slot[s.g] LOOP
    SELECT c.taken, c.capacity, c.start_at INTO v_cur, v_cap, v_slot_start FROM slot_capacity c WHERE c.id = grp.slot_id FOR UPDATE;
    v_grant := CASE WHEN FOUND AND v_slot_start > p_now THEN GREATEST(0, LEAST(cardinality(grp.members), v_cap - v_cur)) ELSE 0 END;
    IF v_grant > 0 THEN
      UPDATE slot_capacity c SET taken = c.taken + v_grant, updated_at = p_now WHERE c.id = grp.slot_id;
    END IF;
    FOR v_k IN 1 .. cardinality(grp.members) LOOP
      v_i := grp.members[v_k];
      IF v_k <= v_grant THEN
        v_taken[v_i] := v_cur + v_k;
      ELSIF EXISTS (SELECT 1 FROM slot_hold h WHERE h.slot_id = grp.slot_id AND h.expires_at <= p_now) THEN
        v_verdict[v_i] := 'RECLAIM_SLOT';
      ELSE
        v_verdict[v_i] := 'SLOT_FULL';
      END IF;
    END LOOP;
  END LOOP;

  -- 4. Doses, lot by lot in id order; a claim whose lot ran out takes the next usable one or gives its place back.
  FOR grp IN SELECT v_lot[s.g] AS lot_id, array_agg(s.g ORDER BY s.g) AS members
               FROM generate_series(1, n) AS s(g) WHERE v_written[s.g] AND v_verdict[s.g] IS NULL
              GROUP BY v_lot[s.g] ORDER BY v_lot[s.g] LOOP
    SELECT i.reserved, i.on_hand INTO v_cur, v_cap FROM inventory i WHERE i.id = grp.lot_id FOR UPDATE;
    v_grant := CASE WHEN FOUND THEN GREATEST(0, LEAST(cardinality(grp.members), v_cap - v_cur)) ELSE 0 END;
    IF v_grant > 0 THEN
      UPDATE inventory i SET reserved = i.reserved + v_grant, updated_at = p_now WHERE i.id = grp.lot_id;
    END IF;
    FOR v_k IN v_grant + 1 .. cardinality(grp.members) LOOP
      v_i := grp.members[v_k];
      SELECT i.id INTO v_id FROM inventory i
        WHERE i.location_id = v_loc[v_i] AND i.product_cvx = v_cvx[v_i] AND i.reserved < i.on_hand
          AND (i.available_from IS NULL OR i.available_from <= v_start[v_i])
          AND (i.expires_on IS NULL OR i.expires_on >= v_start[v_i]::date)
        ORDER BY i.expires_on NULLS LAST, i.available_from NULLS FIRST, i.id LIMIT 1 FOR UPDATE;
      IF FOUND THEN
        UPDATE inventory i SET reserved = i.reserved + 1, updated_at = p_now WHERE i.id = v_id;
        UPDATE booking b SET inventory_id = v_id WHERE b.appointment_id = v_appt[v_i];
        v_lot[v_i] := v_id;
      ELSE
        v_verdict[v_i] := 'NO_SUPPLY';
        UPDATE slot_capacity c SET taken = c.taken - 1, updated_at = p_now WHERE c.id = v_slot[v_i];
      END IF;
    END LOOP;
  END LOOP;

  -- 5. Undo the claims refused after their rows were written.
  v_undo := ARRAY(SELECT v_appt[s.g] FROM generate_series(1, n) AS s(g) WHERE v_written[s.g] AND v_verdict[s.g] IS NOT NULL);
  IF cardinality(v_undo) > 0 THEN
    DELETE FROM sp_token x USING fhir_resource f WHERE f.resource_type = 'Appointment' AND f.id = ANY (v_undo) AND x.rid = f.rid;
    DELETE FROM sp_string x USING fhir_resource f WHERE f.resource_type = 'Appointment' AND f.id = ANY (v_undo) AND x.rid = f.rid;
    DELETE FROM sp_date x USING fhir_resource f WHERE f.resource_type = 'Appointment' AND f.id = ANY (v_undo) AND x.rid = f.rid;
    DELETE FROM sp_reference x USING fhir_resource f WHERE f.resource_type = 'Appointment' AND f.id = ANY (v_undo) AND x.rid = f.rid;
    DELETE FROM sp_number x USING fhir_resource f WHERE f.resource_type = 'Appointment' AND f.id = ANY (v_undo) AND x.rid = f.rid;
    DELETE FROM fhir_history h WHERE h.resource_type = 'Appointment' AND h.id = ANY (v_undo) AND h.version_id = 1;
    DELETE FROM fhir_resource f WHERE f.resource_type = 'Appointment' AND f.id = ANY (v_undo);
    DELETE FROM slot_hold h WHERE h.appointment_id = ANY (v_undo);
    DELETE FROM booking b WHERE b.appointment_id = ANY (v_undo);
  END IF;

  -- 6. Idempotency-Key rows (inserted earlier in the caller's transaction) get the accepted claims' answers.
  UPDATE idempotency_key k SET status = v_idem_status[s.g], body = v_idem_body[s.g], headers = '{}'::jsonb
    FROM generate_series(1, n) AS s(g)
   WHERE v_idem_key[s.g] IS NOT NULL AND k.key = v_idem_key[s.g] AND v_written[s.g] AND v_verdict[s.g] IS NULL;

  RETURN QUERY SELECT v_appt[s.g], COALESCE(v_verdict[s.g], 'OK'),
                      CASE WHEN v_verdict[s.g] IS NULL THEN v_lot[s.g] END, CASE WHEN v_verdict[s.g] IS NULL THEN v_taken[s.g] END,
                      v_conflict[s.g]
                 FROM generate_series(1, n) AS s(g) ORDER BY s.g;
END;
$$ LANGUAGE plpgsql;
