-- Patient `phone-digits` (a hub search parameter, src/fhir/search/parameters.ts): index the phone and SMS numbers of
-- Patients stored before it existed, as the write path now does for every new version (digits only).
INSERT INTO sp_token (rid, param, system, code, display)
SELECT r.rid, 'Patient.phone-digits', NULL, d.digits, NULL
  FROM fhir_resource r
 CROSS JOIN LATERAL (
       SELECT DISTINCT regexp_replace(t->>'value', '[^0-9]', '', 'g') AS digits
         FROM jsonb_array_elements(CASE WHEN jsonb_typeof(r.content->'telecom') = 'array' THEN r.content->'telecom' ELSE '[]'::jsonb END) AS t
        WHERE t->>'system' IN ('phone', 'sms') AND jsonb_typeof(t->'value') = 'string') AS d
 WHERE r.resource_type = 'Patient' AND NOT r.deleted AND d.digits <> ''
   AND NOT EXISTS (SELECT 1 FROM sp_token x WHERE x.rid = r.rid AND x.param = 'Patient.phone-digits');
