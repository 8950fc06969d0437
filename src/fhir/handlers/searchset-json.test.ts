import type { Bundle } from 'fhir/r4';
import { rawSearchsetBundle, serializedBody } from './searchset-json.js';
import { searchsetBundle } from '../bundles.js';

const stored = [
  { resourceType: 'Immunization', id: 'a', meta: { versionId: '1', lastUpdated: '2021-01-01T00:00:00.000Z' }, status: 'completed', lotNumber: 'L "1"\n' },
  { resourceType: 'Immunization', id: 'b', meta: { versionId: '2', lastUpdated: '2021-01-02T00:00:00.000Z' }, status: 'entered-in-error' },
];
// PostgreSQL's jsonb text has spaces after ':' and ','; the splice must not care.
const asJsonbText = (r: object): string => JSON.stringify(r, null, 1).replace(/\n\s*/g, ' ');
const included = [{ resourceType: 'Patient', id: 'p1' }];
const common = {
  baseUrl: 'https://hub.example/fhir',
  selfUrl: 'https://hub.example/fhir/Immunization?patient=p1',
  nextUrl: 'https://hub.example/fhir/Immunization?patient=p1&_cursor=x',
  included,
  total: 2,
  outcome: { resourceType: 'OperationOutcome' as const, issue: [{ severity: 'warning' as const, code: 'not-supported' as const, diagnostics: 'x' }] },
};

function raw(): Bundle {
  return rawSearchsetBundle({ ...common, resourceType: 'Immunization', matches: stored.map((r) => ({ id: r.id, json: asJsonbText(r) })) });
}

describe('rawSearchsetBundle', () => {
  test('serialises to the same Bundle as searchsetBundle over the parsed resources', () => {
    const expected = searchsetBundle({ ...common, resources: stored });
    const text = serializedBody(raw())!;
    const parsed = JSON.parse(text) as Bundle;
    expect({ ...parsed, timestamp: 'x' }).toEqual({ ...expected, timestamp: 'x' });
    expect(Object.keys(parsed)).toEqual(Object.keys(expected));
    expect(parsed.entry!.map((e) => Object.keys(e))).toEqual(expected.entry!.map((e) => Object.keys(e)));
  });

  test('is an ordinary Bundle in process: resources parse on access, and JSON.stringify agrees', () => {
    const b = raw();
    expect(b.entry![0]!.resource).toEqual(stored[0]);
    expect(b.entry![0]!.fullUrl).toBe('https://hub.example/fhir/Immunization/a');
    expect(JSON.parse(JSON.stringify(b))).toEqual(JSON.parse(serializedBody(b)!));
  });

  test('a resource changed after being looked at is serialised as changed', () => {
    const b = raw();
    (b.entry![1]!.resource as unknown as { status: string }).status = 'completed';
    b.entry![0]!.resource = { resourceType: 'Immunization', id: 'a', status: 'not-done' } as never;
    b.total = 7;
    const out = JSON.parse(serializedBody(b)!) as Bundle;
    expect((out.entry![1]!.resource as unknown as { status: string }).status).toBe('completed');
    expect(out.entry![0]!.resource).toEqual({ resourceType: 'Immunization', id: 'a', status: 'not-done' });
    expect(out.total).toBe(7);
  });

  test('other bodies have no own serialisation', () => {
    expect(serializedBody(searchsetBundle({ ...common, resources: stored }))).toBeUndefined();
    expect(serializedBody('text')).toBeUndefined();
    expect(serializedBody(null)).toBeUndefined();
  });
});
