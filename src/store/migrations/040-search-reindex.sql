-- Index rows that a new version of the extraction writes differently (src/fhir/search/extract.ts) are rebuilt from
-- the stored resources by the hub at start (src/fhir/search/reindex.ts), then the row here is deleted:
-- 'references': a Reference with only `identifier` or `display` now has an sp_reference row (so it is not
--   `:missing`) and its identifier an sp_token row (`param:identifier=system|value`);
-- 'phonetic': Patient/Practitioner/Organization `phonetic` rows are Double Metaphone codes, no longer the names' text.
CREATE TABLE IF NOT EXISTS search_reindex (
  resource_type text NOT NULL,
  kind text NOT NULL,
  PRIMARY KEY (resource_type, kind)
);
INSERT INTO search_reindex (resource_type, kind)
SELECT t, 'references' FROM unnest(ARRAY['Patient', 'Practitioner', 'Organization', 'Location', 'Schedule', 'Slot', 'Appointment',
  'Immunization', 'ImmunizationRecommendation', 'Group', 'Provenance', 'AuditEvent', 'QuestionnaireResponse']) t
ON CONFLICT DO NOTHING;
INSERT INTO search_reindex (resource_type, kind) VALUES ('Patient', 'phonetic'), ('Practitioner', 'phonetic'), ('Organization', 'phonetic') ON CONFLICT DO NOTHING;
