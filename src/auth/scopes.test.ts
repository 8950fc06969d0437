import { parseScopes, parseResourceScope, checkRequestedScopes, allows, restrictionQuery, formatScopes } from './scopes.js';
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

describe('checkRequestedScopes', () => {
  const allowed = parseScopes('patient/Immunization.rs patient/Patient.r openid fhirUser launch/patient');
  const opts = { contexts: ['patient', 'user'] as const };
  const refusal = (scope: string, a = allowed, o: { contexts: ReadonlyArray<'patient' | 'user' | 'system'> } = opts): OAuthError => {
    try {
      checkRequestedScopes(parseScopes(scope), a, o);
    } catch (e) {
      if (e instanceof OAuthError) return e;
      throw e;
    }
    throw new Error(`${scope} was granted`);
  };
  it('grants covered scopes exactly as asked', () => {
    const out = checkRequestedScopes(parseScopes('patient/Immunization.read openid launch/patient'), allowed, opts);
    expect(formatScopes(out)).toBe('patient/Immunization.read openid launch/patient');
    expect(formatScopes(checkRequestedScopes(parseScopes('patient/Immunization.s'), allowed, opts))).toBe('patient/Immunization.s');
  });
  it('refuses a wildcard wider than the registration, naming it', () => {
    const e = refusal('patient/*.rs');
    expect(e.error).toBe('invalid_scope');
    expect(e.description).toContain('patient/*.rs');
  });
  it('refuses escalating letters instead of narrowing them', () => {
    const e = refusal('patient/Immunization.cruds patient/Patient.r');
    expect(e.error).toBe('invalid_scope');
    expect(e.description).toContain('patient/Immunization.cruds');
    expect(e.description).not.toContain('patient/Patient.r');
  });
  it('refuses unregistered context scopes and contexts the flow cannot carry', () => {
    expect(refusal('patient/Immunization.rs offline_access').description).toContain('offline_access');
    expect(refusal('patient/Immunization.rs system/Immunization.rs', parseScopes('patient/Immunization.rs system/Immunization.rs')).description).toContain('system/Immunization.rs');
  });
  it('never issues a token with no resource scope', () => {
    expect(refusal('openid fhirUser').error).toBe('invalid_scope');
    expect(refusal('').error).toBe('invalid_scope');
  });
  it('refuses dropping a registered restriction, and keeps one asked for', () => {
    const a = parseScopes('system/Immunization.rs?status=completed');
    const sys = { contexts: ['system'] as const };
    expect(refusal('system/Immunization.rs', a, sys).description).toContain('system/Immunization.rs');
    const out = checkRequestedScopes(parseScopes('system/Immunization.rs?status=completed'), a, sys);
    expect(out.grants[0]!.restrictions).toEqual({ status: 'completed' });
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
