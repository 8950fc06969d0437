/**
 * The card path reads a person's Patient and Immunizations in one query (src/credentials/record-query.ts).
 * It must answer exactly what the repository answers for the same reads, on both databases, and the access
 * rules around it must not change: a patient token only for itself, scope restrictions still applied.
 */
import type { Immunization, Patient } from 'fhir/r4';
import { smartAccessPolicy } from '../../src/auth/fhir-access-policy.js';
import type { Principal, ScopeGrant } from '../../src/auth/principal.js';
import type { Db } from '../../src/store/db.js';
import type { Repository } from '../../src/store/repository-types.js';
import { FhirRepository } from '../../src/store/repository.js';
import { readPatientRecord } from '../../src/credentials/record-query.js';
import { loadAuthorizedRecord, readImmunizations } from '../../src/credentials/patient-access.js';
import { INTERNAL_SYSTEM } from '../../src/auth/principal.js';
import { OperationOutcomeError } from '../../src/fhir/outcomes.js';
import { patientRecord } from './http-fixtures.js';
import { testDatabases } from './databases.js';

const grant = (raw: string, resourceType = '*', restrictions: Record<string, string> = {}): ScopeGrant => ({
  context: 'patient',
  resourceType,
  permissions: { c: false, r: true, u: false, d: false, s: true },
  restrictions,
  raw,
});

const patientToken = (id: string, scopes: ScopeGrant[] = [grant('patient/*.rs')]): Principal =>
  ({ kind: 'patient', patientId: id, scope: scopes.map((s) => s.raw).join(' '), scopes }) as Principal;

describe.each(testDatabases)('one-query patient record ($name)', (tdb) => {
  let db: Db;
  let repo: FhirRepository;
  const tag = Math.random().toString(36).slice(2, 8);
  const alice = `rq-alice-${tag}`;
  const bob = `rq-bob-${tag}`;
  const gone = `rq-gone-${tag}`;

  beforeAll(async () => {
    db = await tdb.open();
    repo = new FhirRepository(db);
    await repo.create({ resourceType: 'Organization', name: 'Riverside Clinic' }, { id: 'clinic' });
    for (const r of [...patientRecord(alice, 4), ...patientRecord(bob, 2), ...patientRecord(gone, 1)]) await repo.create(r, { id: r.id });
    // A deleted dose, an updated one (its rid stays, its content changes), a deleted person.
    await repo.delete('Immunization', `${alice}-imm-2`);
    const third = await repo.read<Immunization & { [k: string]: unknown }>('Immunization', `${alice}-imm-3`);
    await repo.update({ ...third, lotNumber: 'UPDATED-LOT' });
    // A dose of another status, created later (a higher rid).
    await repo.create(
      { resourceType: 'Immunization', primarySource: true, status: 'not-done', statusReason: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'PATOBJ' }] }, vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '208' }] }, patient: { reference: `Patient/${alice}` }, occurrenceDateTime: '2022-01-01' },
      { id: `${alice}-imm-extra` },
    );
    await repo.delete('Patient', gone);
  });
  afterAll(() => db.close());

  const viaRepository = async (id: string) => ({
    patient: await repo.readOptional<Patient & { [k: string]: unknown }>('Patient', id),
    immunizations: (await repo.search('Immunization', { patient: `Patient/${id}`, _count: '1000' })).resources,
  });

  it.each([
    ['a person with doses, one deleted and one updated', () => alice],
    ['another person', () => bob],
    ['a deleted person', () => gone],
    ['nobody', () => `rq-nobody-${tag}`],
  ])('answers what readOptional + search answer: %s', async (_label, id) => {
    const one = await readPatientRecord(db, id());
    const two = await viaRepository(id());
    expect(one.patient).toEqual(two.patient);
    expect(one.immunizations).toEqual(two.immunizations);
  });

  it('the repository answer it matches is not empty (the comparison means something)', async () => {
    const { patient, immunizations } = await readPatientRecord(db, alice);
    expect(patient?.id).toBe(alice);
    expect(immunizations.map((i) => i.id)).toEqual([`${alice}-imm-1`, `${alice}-imm-3`, `${alice}-imm-4`, `${alice}-imm-extra`]);
    expect(immunizations[1]!.lotNumber).toBe('UPDATED-LOT');
  });

  /** The same store behind the Repository interface only: loadAuthorizedRecord takes the two-read path. */
  const plainRepository = (): Repository => ({
    create: (r, o) => repo.create(r, o),
    createIf: (r, c, o) => repo.createIf(r, c, o),
    update: (r, o) => repo.update(r, o),
    delete: (t, id, o) => repo.delete(t, id, o),
    read: (t, id, tx) => repo.read(t, id, tx),
    readOptional: (t, id, tx) => repo.readOptional(t, id, tx),
    vread: (t, id, v) => repo.vread(t, id, v),
    search: (t, q, o) => repo.search(t, q, o),
  });

  it('loadAuthorizedRecord gives the same record on the one-query path as through the repository', async () => {
    // A counting view of the database under a FhirRepository: the one-query path makes exactly one statement.
    let statements = 0;
    const counting = Object.assign(Object.create(db) as Db, { query: ((sql: string, params?: unknown[]) => (statements++, db.query(sql, params))) as Db['query'] });
    const fast = { repo: new FhirRepository(counting), policy: smartAccessPolicy };
    await loadAuthorizedRecord(fast, patientToken(alice), alice); // fills the clinic-name cache
    statements = 0;
    const oneQuery = await loadAuthorizedRecord(fast, patientToken(alice), alice);
    expect(statements).toBe(1);
    const twoReads = await loadAuthorizedRecord({ repo: plainRepository(), policy: smartAccessPolicy }, patientToken(alice), alice);
    expect(oneQuery).toEqual(twoReads);
    // Performer names are filled in on both paths.
    expect(oneQuery.immunizations[0]!.performer?.[0]?.actor.display).toBe('Riverside Clinic');
  });

  it('a patient token still reaches only its own person (404), and a deleted person is 404', async () => {
    const src = { repo, policy: smartAccessPolicy };
    await expect(loadAuthorizedRecord(src, patientToken(alice), bob)).rejects.toMatchObject({ status: 404 });
    const err = await loadAuthorizedRecord(src, INTERNAL_SYSTEM, gone).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationOutcomeError);
    expect(err).toMatchObject({ status: 404 });
  });

  it('a scope restriction on Immunization still narrows the doses (repository path)', async () => {
    const restricted = patientToken(alice, [
      grant('patient/Patient.rs', 'Patient'),
      grant('patient/Immunization.rs?status=not-done', 'Immunization', { status: 'not-done' }),
    ]);
    const src = { repo, policy: smartAccessPolicy };
    const { immunizations } = await loadAuthorizedRecord(src, restricted, alice);
    expect(immunizations.map((i) => i.id)).toEqual([`${alice}-imm-extra`]);
    expect(immunizations).toEqual(await readImmunizations(src, restricted, alice));
  });
});
