-- Search parameters that narrow another to one target type (Appointment `patient` is `actor` narrowed to
-- Patients) are now searched in that parameter's rows (SearchParamDef.narrows, src/fhir/search/parameters.ts) and
-- no longer written: their rows repeated rows the broader parameter has. The rows written before are unused.
-- src/fhir/search/parameters.test.ts checks this list against the definitions.
DELETE FROM sp_reference
 WHERE param IN ('Appointment.location', 'Appointment.patient', 'Appointment.practitioner', 'Provenance.patient', 'QuestionnaireResponse.patient');
