import type { Bundle, Parameters } from 'fhir/r4';
import { auditViewOf, rawSearchsetBundle, serializedBody, textResource } from './searchset-json.js';
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

  test('every raw searchset has the same entry accessor functions (no closures per Bundle: see TextState)', () => {
    const a = Object.getOwnPropertyDescriptor(raw(), 'entry')!;
    const b = Object.getOwnPropertyDescriptor(raw(), 'entry')!;
    expect(typeof a.get).toBe('function');
    expect(a.get).toBe(b.get);
    expect(a.set).toBe(b.set);
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

describe('textResource', () => {
  const text = JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'x', valueString: 'a "quoted" \u00e9' }] });
  const make = (view?: unknown) => textResource<Parameters>(text, { resourceType: 'Parameters' }, 'parameter', view);

  test('serialises to its text while untouched, and is an ordinary resource to read', () => {
    const body = make();
    expect(serializedBody(body)).toBe(text);
    expect(body.parameter).toEqual([{ name: 'x', valueString: 'a "quoted" \u00e9' }]);
    expect(Object.keys(body)).toEqual(['resourceType', 'parameter']);
    expect(JSON.stringify(body)).toBe(text);
  });

  test('once changed, serialises what it holds', () => {
    const body = make();
    body.parameter![0]!.valueString = 'changed';
    expect(JSON.parse(serializedBody(body)!)).toEqual({ resourceType: 'Parameters', parameter: [{ name: 'x', valueString: 'changed' }] });
    const replaced = make();
    replaced.parameter = [];
    expect(serializedBody(replaced)).toBe('{"resourceType":"Parameters","parameter":[]}');
  });

  test('every textResource has the same accessor functions (no closures per answer: see TextState)', () => {
    const a = Object.getOwnPropertyDescriptor(make(), 'parameter')!;
    const b = Object.getOwnPropertyDescriptor(textResource<Parameters>('{"resourceType":"Parameters","parameter":[]}', { resourceType: 'Parameters' }, 'parameter'), 'parameter')!;
    expect(typeof a.get).toBe('function');
    expect(a.get).toBe(b.get);
    expect(a.set).toBe(b.set);
  });

  test('carries the audit view it was given, and none otherwise', () => {
    const view = { resourceType: 'Parameters', parameter: [] };
    expect(auditViewOf(make(view))).toBe(view);
    expect(auditViewOf(make())).toBeUndefined();
    expect(auditViewOf({ resourceType: 'Patient' })).toBeUndefined();
  });
});
