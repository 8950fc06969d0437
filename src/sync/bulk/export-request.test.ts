import type { FhirRequest } from '../../fhir/types.js';
import { ANONYMOUS } from '../../auth/principal.js';
import { parseExportRequest, preferTokens } from './export-request.js';

function req(query: Record<string, string | string[]>, extra: Partial<FhirRequest> = {}): FhirRequest {
  return { method: 'GET', path: '$export', query, headers: { prefer: 'respond-async' }, principal: ANONYMOUS, baseUrl: 'http://h/fhir', ...extra };
}

describe('parseExportRequest', () => {
  it('accepts the three spellings of NDJSON and normalises _since', () => {
    for (const f of ['application/fhir+ndjson', 'application/ndjson', 'ndjson']) {
      expect(parseExportRequest(req({ _outputFormat: f }), 'system').outputFormat).toBe('application/fhir+ndjson');
    }
    expect(parseExportRequest(req({ _since: '2024-03-01T10:00:00+02:00' }), 'system').since).toBe('2024-03-01T08:00:00.000Z');
  });

  it('reads _type as comma lists or repeats, _typeFilter per type, _elements', () => {
    const r = parseExportRequest(req({ _type: ['Patient,Immunization', 'Immunization'], _typeFilter: 'Immunization?status=completed', _elements: 'status,Patient.name' }), 'patient');
    expect(r.types).toEqual(['Patient', 'Immunization']);
    expect(r.typeFilters).toEqual({ Immunization: ['status=completed'] });
    expect(r.elements).toEqual(['status', 'Patient.name']);
  });

  it('reads a POST Parameters body with patient references', () => {
    const body = { resourceType: 'Parameters', parameter: [{ name: 'patient', valueReference: { reference: 'Patient/a' } }, { name: '_type', valueString: 'Immunization' }] };
    const r = parseExportRequest(req({}, { method: 'POST', body }), 'group', 'g1');
    expect(r).toMatchObject({ level: 'group', groupId: 'g1', patients: ['a'], types: ['Immunization'] });
  });

  it.each([
    [{}, { prefer: '' }, 'Prefer'],
    [{ _outputFormat: 'application/json' }, undefined, '_outputFormat'],
    [{ _since: '2024-01-01' }, undefined, '_since'],
    [{ _type: 'Starship' }, undefined, '_type'],
    [{ _typeFilter: 'Immunization?bogus=1' }, undefined, '_typeFilter'],
    [{ _elements: 'a b' }, undefined, '_elements'],
    [{ includeAssociatedData: 'LatestProvenanceResources' }, undefined, 'includeAssociatedData'],
    [{ _nonsense: '1' }, undefined, '_nonsense'],
  ])('rejects %j with 400 at %s', (query, headers, expression) => {
    try {
      parseExportRequest(req(query as Record<string, string>, headers ? { headers } : {}), 'system');
      throw new Error('accepted');
    } catch (e) {
      expect(e).toMatchObject({ status: 400, outcome: { issue: [expect.objectContaining({ expression: [expression] })] } });
    }
  });

  it('rejects patient on GET and at the system level', () => {
    expect(() => parseExportRequest(req({ patient: 'Patient/a' }), 'patient')).toThrow(/POST/);
    const body = { resourceType: 'Parameters', parameter: [{ name: 'patient', valueReference: { reference: 'Patient/a' } }] };
    expect(() => parseExportRequest(req({}, { method: 'POST', body }), 'system')).toThrow(/Patient and Group/);
  });

  it('turns unsupported input into warnings under handling=lenient', () => {
    const r = parseExportRequest(req({ _type: 'Patient,Starship', includeAssociatedData: 'x', _foo: '1' }, { headers: { prefer: 'respond-async, handling=lenient' } }), 'system');
    expect(r.types).toEqual(['Patient']);
    expect(r.warnings).toHaveLength(3);
    expect(preferTokens({ prefer: 'respond-async; handling=lenient' })).toEqual(new Set(['respond-async', 'handling=lenient']));
  });
});
