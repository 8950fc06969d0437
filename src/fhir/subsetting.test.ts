import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { applyElements, mandatoryElements } from './subsetting.js';

const require = createRequire(import.meta.url);

describe('subsetting', () => {
  test('element-rules.json is what scripts/gen-element-rules.cjs derives from the R4 StructureDefinitions', () => {
    const gen = require('../../scripts/gen-element-rules.cjs') as { derive: () => unknown; file: string };
    expect(JSON.parse(readFileSync(gen.file, 'utf8'))).toEqual(gen.derive());
  });

  test('mandatory and modifier elements come from the definitions', () => {
    expect(mandatoryElements('Immunization')).toEqual(expect.arrayContaining(['status', 'vaccineCode', 'patient', 'occurrence', 'isSubpotent', 'modifierExtension']));
    expect(mandatoryElements('Patient')).toEqual(expect.arrayContaining(['active', 'deceased', 'link', 'implicitRules']));
    expect(mandatoryElements('Immunization')).not.toContain('lotNumber');
  });

  test('applyElements keeps the asked, the mandatory, their primitive extensions, and tags SUBSETTED once', () => {
    const r = applyElements({
      resourceType: 'Immunization', id: 'x', meta: { tag: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' }] },
      status: 'completed', _status: { extension: [{ url: 'urn:x', valueString: 'y' }] }, vaccineCode: { text: 'v' }, patient: { reference: 'Patient/p' },
      occurrenceString: 'last spring', lotNumber: 'L1', expirationDate: '2022-01-01', modifierExtension: [{ url: 'urn:m', valueBoolean: true }],
    } as never, ['Immunization.lotNumber', ' expirationDate']);
    expect(Object.keys(r).sort()).toEqual(['_status', 'expirationDate', 'id', 'lotNumber', 'meta', 'modifierExtension', 'occurrenceString', 'patient', 'resourceType', 'status', 'vaccineCode']);
    expect(r.meta?.tag).toHaveLength(1);
  });
});
