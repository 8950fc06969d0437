-- vaxhub_claim_batch (migration 230), rewritten set-wise; what it decides for each claim and the order it locks
-- rows in are unchanged (see 230's header).
--
-- Why: measured on the benchmark machine, a group of 32 claims with their Appointments cost PostgreSQL ~330 us a
-- claim, and most of it was per statement rather than per row: 230 ran ~125 statements a group (per claim: a lot
-- guess and a booking insert; per slot and per lot: a locking read and an update; per index table: an insert that
-- looked every new Appointment's rid up by key and subscripted the group's array of ~1 kB resources per row, even
-- for tables no claim had rows for). Now each step is one statement for the whole group:
--   1. the lot guesses in one read, the booking rows in one INSERT ... ON CONFLICT DO NOTHING, in the same
--      (patient, series, dose) order;
--   2. the Appointments and their history rows in one statement whose RETURNING gives the rids, index rows read
--      straight from the items, a table without rows in the group skipped;
--   3. and 4. the slot rows, then the lot rows, each set locked by one SELECT ... ORDER BY id FOR UPDATE (rows are
--      locked in sort order) and taken once for all their claims by one UPDATE.
-- Per-claim statements remain only for refusals and for a lot that ran out.
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
  v_written boolean[];
  v_guess text[];
  v_undo text[];
  -- Per slot or lot of the group, as locked: its id, places taken before, places or doses granted.
  v_ids text[];
  v_before integer[];
  v_granted integer[];
  g integer;
  grp record;
  v_id text;
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

  -- 1. The lot each claim's dose will most likely come from, read without a lock; then the people's booking rows
  -- under the one-person-one-dose index, inserted in (patient, series, dose) order (a conflict -> not written).
  SELECT array_agg(l.id ORDER BY s.g) INTO v_guess
    FROM generate_series(1, n) AS s(g)
    LEFT JOIN LATERAL (
      SELECT i.id FROM inventory i
       WHERE i.location_id = v_loc[s.g] AND i.product_cvx = v_cvx[s.g] AND i.reserved < i.on_hand
         AND (i.available_from IS NULL OR i.available_from <= v_start[s.g])
         AND (i.expires_on IS NULL OR i.expires_on >= v_start[s.g]::date)
       ORDER BY i.expires_on NULLS LAST, i.available_from NULLS FIRST, i.id LIMIT 1) l ON true;
  WITH ins AS (
    INSERT INTO booking (appointment_id, slot_id, location_id, product_cvx, series, dose_number, patient_id,
                         inventory_id, start_at, status, created_at, updated_at)
      SELECT v_appt[s.g], v_slot[s.g], v_loc[s.g], v_cvx[s.g], v_series[s.g], v_dose[s.g], v_patient[s.g], v_guess[s.g],
             v_start[s.g], v_status[s.g], p_now, p_now
        FROM generate_series(1, n) AS s(g)
       WHERE v_guess[s.g] IS NOT NULL
       ORDER BY v_patient[s.g] NULLS LAST, v_series[s.g], v_dose[s.g], s.g
      ON CONFLICT (patient_id, series, dose_number) WHERE active AND patient_id IS NOT NULL DO NOTHING
      RETURNING appointment_id
  )
  SELECT array_agg(i.appointment_id IS NOT NULL ORDER BY s.g) INTO v_written
    FROM generate_series(1, n) AS s(g) LEFT JOIN ins i ON i.appointment_id = v_appt[s.g];
  FOR g IN 1 .. n LOOP
    IF v_guess[g] IS NULL THEN
      v_verdict[g] := CASE
        WHEN EXISTS (SELECT 1 FROM slot_capacity c WHERE c.id = v_slot[g] AND c.taken < c.capacity AND c.start_at > p_now) THEN 'NO_SUPPLY'
        WHEN EXISTS (SELECT 1 FROM slot_hold h WHERE h.slot_id = v_slot[g] AND h.expires_at <= p_now) THEN 'RECLAIM_SLOT'
        ELSE 'SLOT_FULL' END;
    ELSIF NOT v_written[g] THEN
      SELECT b.slot_id INTO v_id FROM booking b JOIN slot_hold h ON h.appointment_id = b.appointment_id
        WHERE b.patient_id = v_patient[g] AND b.series = v_series[g] AND b.dose_number = v_dose[g] AND b.active
          AND b.status = 'held' AND h.expires_at <= p_now LIMIT 1;
      IF FOUND THEN
        v_verdict[g] := 'RECLAIM_PERSON';
        v_conflict[g] := v_id;
      ELSE
        v_verdict[g] := 'ALREADY_BOOKED';
      END IF;
    ELSE
      v_lot[g] := v_guess[g];
    END IF;
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

  -- 3. Places: the group's slot rows locked in id order (FOR UPDATE waits for a concurrent writer and reads the row
  -- as it left it), each taken once for all its claims, never past capacity; then each claim's share, in order.
  WITH want AS (
    SELECT v_slot[s.g] AS id, count(*)::int AS k FROM generate_series(1, n) AS s(g) WHERE v_written[s.g] GROUP BY 1
  ), locked AS (
    SELECT c.id, c.taken, c.capacity, c.start_at FROM slot_capacity c WHERE c.id IN (SELECT w.id FROM want w) ORDER BY c.id FOR UPDATE
  ), granted AS (
    SELECT l.id, l.taken, CASE WHEN l.start_at > p_now THEN GREATEST(0, LEAST(w.k, l.capacity - l.taken)) ELSE 0 END AS n
      FROM locked l JOIN want w ON w.id = l.id
  ), upd AS (
    UPDATE slot_capacity c SET taken = c.taken + gr.n, updated_at = p_now FROM granted gr WHERE c.id = gr.id AND gr.n > 0
  )
  SELECT array_agg(gr.id), array_agg(gr.taken), array_agg(gr.n) INTO v_ids, v_before, v_granted FROM granted gr;
  FOR grp IN SELECT m.slot_id, m.members, COALESCE(gr.before, 0) AS before, COALESCE(gr.n, 0) AS granted
               FROM (SELECT v_slot[s.g] AS slot_id, array_agg(s.g ORDER BY s.g) AS members
                       FROM generate_series(1, n) AS s(g) WHERE v_written[s.g] GROUP BY 1) m
               LEFT JOIN unnest(v_ids, v_before, v_granted) AS gr(id, before, n) ON gr.id = m.slot_id LOOP
    FOR v_k IN 1 .. cardinality(grp.members) LOOP
      v_i := grp.members[v_k];
      IF v_k <= grp.granted THEN
        v_taken[v_i] := grp.before + v_k;
      ELSIF EXISTS (SELECT 1 FROM slot_hold h WHERE h.slot_id = grp.slot_id AND h.expires_at <= p_now) THEN
        v_verdict[v_i] := 'RECLAIM_SLOT';
      ELSE
        v_verdict[v_i] := 'SLOT_FULL';
      END IF;
    END LOOP;
  END LOOP;

  -- 4. Doses: the lot rows locked in id order, each taken once for all its claims; a claim whose lot ran out
  -- meanwhile takes the next usable lot, or is refused NO_SUPPLY and gives its place back.
  WITH want AS (
    SELECT v_lot[s.g] AS id, count(*)::int AS k FROM generate_series(1, n) AS s(g)
     WHERE v_written[s.g] AND v_verdict[s.g] IS NULL GROUP BY 1
  ), locked AS (
    SELECT i.id, i.reserved, i.on_hand FROM inventory i WHERE i.id IN (SELECT w.id FROM want w) ORDER BY i.id FOR UPDATE
  ), granted AS (
    SELECT l.id, GREATEST(0, LEAST(w.k, l.on_hand - l.reserved)) AS n FROM locked l JOIN want w ON w.id = l.id
  ), upd AS (
    UPDATE inventory i SET reserved = i.reserved + gr.n, updated_at = p_now FROM granted gr WHERE i.id = gr.id AND gr.n > 0
  )
  SELECT array_agg(gr.id), array_agg(gr.n) INTO v_ids, v_granted FROM granted gr;
  FOR grp IN SELECT m.lot_id, m.members, COALESCE(gr.n, 0) AS granted
               FROM (SELECT v_lot[s.g] AS lot_id, array_agg(s.g ORDER BY s.g) AS members
                       FROM generate_series(1, n) AS s(g) WHERE v_written[s.g] AND v_verdict[s.g] IS NULL GROUP BY 1) m
               LEFT JOIN unnest(v_ids, v_granted) AS gr(id, n) ON gr.id = m.lot_id
              ORDER BY m.lot_id LOOP
    FOR v_k IN grp.granted + 1 .. cardinality(grp.members) LOOP
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
