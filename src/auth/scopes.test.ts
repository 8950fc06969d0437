import { parseScopes, parseResourceScope, downscope, allows, restrictionQuery, formatScopes } from './scopes.js';
import type { Principal } from './principal.js';
import { OAuthError } from './oauth-error.js';

function principalOf(scope: string): Principal {
  const p = parseScopes(scope);
  return { kind: 'patient', scopes: p.grants, scope, patientId: 'p1' };
}

describe('parseResourceScope', () => {
  it('parses the SMART v2 examples', () => {
    const g = parseResourceScope('patient/Observation.rs')!;
    expect(g).toMatchObject({ context: 'patient', resourceType: 'Observation', restrictions: {} });
    expect(g.permissions).toEqual({ c: false, r: true, u: false, d: false, s: true });
    expect(parseResourceScope('user/*.cruds')!.permissions).toEqual({ c: true, r: true, u: true, d: true, s: true });
    const lab = parseResourceScope(
      'patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory',
    )!;
    expect(lab.restrictions).toEqual({
      category: 'http://terminology.hl7.org/CodeSystem/observation-category|laboratory',
    });
  });
  it('maps v1 read/write/* to v2 letters', () => {
    expect(parseResourceScope('patient/Immunization.read')!.permissions).toEqual({ c: false, r: true, u: false, d: false, s: true });
    expect(parseResourceScope('user/Patient.write')!.permissions).toEqual({ c: true, r: false, u: true, d: true, s: false });
    expect(parseResourceScope('system/*.*')!.permissions).toEqual({ c: true, r: true, u: true, d: true, s: true });
  });
  it('rejects out-of-order, repeated or unknown letters, unknown types and bad contexts', () => {
    for (const bad of ['patient/Observation.sr', 'patient/Observation.rr', 'patient/Observation.rx', 'patient/Foo.rs',
      'admin/Patient.rs', 'patient/Observation.', 'patient/Observation.read?x=1', 'patient/Observation.rs?']) {
      expect(parseResourceScope(bad)).toBeUndefined();
    }
  });
});

describe('parseScopes', () => {
  it('separates context scopes from resource scopes', () => {
    const p = parseScopes('launch/patient openid fhirUser offline_access patient/Immunization.rs');
    expect(p.grants.map((g) => g.raw)).toEqual(['patient/Immunization.rs']);
    expect([...p.context].sort()).toEqual(['fhirUser', 'launch/patient', 'offline_access', 'openid']);
  });
  it('rejects unknown scopes with invalid_scope', () => {
    expect(() => parseScopes('openid profile-photo')).toThrow(OAuthError);
    expect(() => parseScopes('patient/Immunization.rs launch/encounterz')).toThrow(
      expect.objectContaining({ error: 'invalid_scope' }),
    );
  });
});

describe('downscope', () => {
  const allowed = parseScopes('patient/Immunization.rs patient/Patient.r openid fhirUser launch/patient');
  const opts = { contexts: ['patient', 'user'] as const };
  it('keeps covered scopes as asked and drops unregistered context scopes', () => {
    const out = downscope(parseScopes('patient/Immunization.read openid offline_access'), allowed, opts);
    expect(formatScopes(out)).toBe('patient/Immunization.read openid');
  });
  it('narrows a wildcard to what is allowed', () => {
    const out = downscope(parseScopes('patient/*.rs'), allowed, opts);
    expect(out.grants.map((g) => g.raw).sort()).toEqual(['patient/Immunization.rs', 'patient/Patient.r']);
  });
  it('drops the escalating letters instead of granting them', () => {
    const out = downscope(parseScopes('patient/Immunization.cruds'), allowed, opts);
    expect(out.grants.map((g) => g.raw)).toEqual(['patient/Immunization.rs']);
  });
  it('never issues a token with no resource scope', () => {
    expect(() => downscope(parseScopes('system/*.cruds openid'), allowed, opts)).toThrow(/invalid_scope/);
    expect(() => downscope(parseScopes('openid fhirUser'), allowed, opts)).toThrow(/invalid_scope/);
  });
  it('keeps a registered restriction on the narrowed grant', () => {
    const a = parseScopes('system/Immunization.rs?status=completed');
    const out = downscope(parseScopes('system/Immunization.rs'), a, { contexts: ['system'] });
    expect(out.grants[0]!.restrictions).toEqual({ status: 'completed' });
    expect(out.grants[0]!.raw).toBe('system/Immunization.rs?status=completed');
  });
});

describe('allows / restrictionQuery', () => {
  it('decides by type and interaction letter', () => {
    const p = principalOf('patient/Immunization.rs patient/Patient.r');
    expect(allows(p, 'Immunization', 's')).toBe(true);
    expect(allows(p, 'Immunization', 'c')).toBe(false);
    expect(allows(p, 'Patient', 's')).toBe(false);
    expect(allows(p, 'Observation', 'r')).toBe(false);
    expect(allows(principalOf('user/*.cruds'), 'Observation', 'd')).toBe(true);
  });
  it('returns restrictions as OR of ANDs, null when any grant is unrestricted', () => {
    const p = principalOf('patient/Observation.rs?category=laboratory patient/Observation.rs?category=vital-signs');
    expect(restrictionQuery(p, 'Observation', 's')).toEqual([{ category: 'laboratory' }, { category: 'vital-signs' }]);
    expect(restrictionQuery(principalOf('patient/Observation.rs'), 'Observation', 's')).toBeNull();
    expect(restrictionQuery(p, 'Immunization', 's')).toEqual([]);
  });
});
