import { uriAbove, uriMatches } from './uri.js';

describe('uri :above and :below by path segment', () => {
  test(':below', () => {
    expect(uriMatches('below', 'http://acme.org/fhir', 'http://acme.org/fhir/ValueSet/1')).toBe(true);
    expect(uriMatches('below', 'http://acme.org/fhir/', 'http://acme.org/fhir')).toBe(true);
    expect(uriMatches('below', 'http://acme.org/fhir', 'http://acme.org/fhir')).toBe(true);
    expect(uriMatches('below', 'http://acme.org/fhi', 'http://acme.org/fhir/ValueSet/1')).toBe(false);
    expect(uriMatches('below', 'http://acme.org/fhir/ValueSet/1', 'http://acme.org/fhir')).toBe(false);
  });

  test(':above', () => {
    expect(uriAbove('http://acme.org/fhir/ValueSet/123')).toEqual(expect.arrayContaining([
      'http://acme.org/fhir/ValueSet/123', 'http://acme.org/fhir/ValueSet', 'http://acme.org/fhir/', 'http://acme.org/fhir', 'http://acme.org',
    ]));
    expect(uriAbove('http://acme.org/fhir/ValueSet/123')).not.toContain('http:');
    expect(uriMatches('above', 'http://acme.org/fhir/ValueSet/123?x=1', 'http://acme.org/fhir/ValueSet/123')).toBe(true);
    expect(uriMatches('above', 'http://acme.org/fhir', 'http://acme.org/fhir/ValueSet')).toBe(false);
    expect(uriMatches('above', 'http://acme.org/fhir10/x', 'http://acme.org/fhir1')).toBe(false);
    // No path hierarchy in a URN: only itself.
    expect(uriAbove('urn:oid:1.2.3.4')).toEqual(['urn:oid:1.2.3.4']);
  });
});
