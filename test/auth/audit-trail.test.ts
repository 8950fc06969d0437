/**
 * The audit trail cannot be lost and names whose data was touched (issue 16, item 8): one bad row never drops the
 * other rows of its batch, and `GET /auth/admin/audit?patient=X` shows every access to X's data (reads, searches by
 * any principal with their matches and includes, transaction and batch entries one by one, deletes, refused
 * attempts), each resource an entity naming its patient, never the token's patient instead.
 */
import request from 'supertest';
import type { AuditEvent, AuditEventEntity } from 'fhir/r4';
import { ADMIN, backends, migratedTestDatabases, startTestHub, type TestHub } from '../helpers/hub.js';
import { immunizationFor } from '../helpers/fhir-fixtures.js';
import { issueAccessToken } from '../../src/auth/token-service.js';
import { AuditBuffer } from '../../src/auth/audit-buffer.js';
import { auditWriteProblems } from '../../src/auth/audit-metrics.js';
import { searchAudit, type AuditInput } from '../../src/auth/audit.js';

const FHIR = 'application/fhir+json';

async function problems(problem: string): Promise<number> {
  return (await auditWriteProblems.get()).values.filter((v) => v.labels.problem === problem).reduce((n, v) => n + v.value, 0);
}

describe.each(migratedTestDatabases())('audit writer on $name', ({ open }) => {
  const event = (what: string, extra: Partial<AuditInput> = {}): AuditInput => ({ action: 'read', outcome: 'success', who: { clientId: 'audit-writer-test' }, what, ...extra });

  test('a NUL or a lone surrogate is stored as U+FFFD, and the rest of the batch with it', async () => {
    const db = await open();
    try {
      const before = await problems('value_replaced');
      const buffer = new AuditBuffer(db, { flushMs: 10_000 });
      buffer.add(event('Patient/before'));
      buffer.add(event('Patient/\u0000x', { query: 'name=\u0000', detail: 'half \ud800 pair' }));
      buffer.add(event('Patient/after', { patientId: 'p-after' }));
      await buffer.close();
      const rows = await db.query<{ what: string; query: string | null; detail: string | null }>(
        "SELECT what, query, detail FROM audit_event WHERE client_id = 'audit-writer-test' ORDER BY seq",
      );
      expect(rows.rows).toEqual([
        { what: 'Patient/before', query: null, detail: null },
        { what: 'Patient/\ufffdx', query: 'name=\ufffd', detail: 'half \ufffd pair' },
        { what: 'Patient/after', query: null, detail: null },
      ]);
      expect(await problems('value_replaced')).toBe(before + 3);
      expect((await searchAudit(db, { patientId: 'p-after' })).map((e) => e.id)).toHaveLength(1);
    } finally {
      await db.close();
    }
  });

  test('a row the database refuses does not drop its batch: the others are retried one by one, it is kept in part', async () => {
    const db = await open();
    try {
      // A fault only this row meets, made by the database itself (this test's own schema).
      await db.query("ALTER TABLE audit_event ADD CONSTRAINT audit_test_poison CHECK (query IS DISTINCT FROM 'poison')");
      const failedBefore = await problems('batch_failed');
      const reducedBefore = await problems('row_reduced');
      const logged: unknown[] = [];
      const logger = { error: (o: unknown) => void logged.push(o), warn: () => undefined };
      const buffer = new AuditBuffer(db, { flushMs: 10_000, logger });
      for (let i = 0; i < 5; i++) buffer.add(event(`Immunization/ok-${i}`, { patientId: `p${i}` }));
      buffer.add(event('Immunization/bad', { query: 'poison', patientId: 'p-bad' }));
      for (let i = 5; i < 10; i++) buffer.add(event(`Immunization/ok-${i}`, { patientId: `p${i}` }));
      await buffer.close();
      const rows = await db.query<{ what: string; patient_id: string; query: string | null; detail: string | null }>(
        "SELECT what, patient_id, query, detail FROM audit_event WHERE client_id = 'audit-writer-test' ORDER BY seq",
      );
      expect(rows.rows.filter((r) => r.what.startsWith('Immunization/ok-'))).toHaveLength(10);
      // Who did what to whose data survives; the free text that failed is replaced by the reason.
      const bad = rows.rows.find((r) => r.patient_id === 'p-bad');
      expect(bad).toEqual({ what: '(not storable)', patient_id: 'p-bad', query: null, detail: expect.stringMatching(/^audit row stored in part: SQLSTATE 23514/) });
      expect(await problems('batch_failed')).toBe(failedBefore + 1);
      expect(await problems('row_reduced')).toBe(reducedBefore + 1);
      expect(logged.length).toBe(2);
    } finally {
      await db.close();
    }
  });
});

describe.each(backends())('whose data an audit event names, on %s', (backend) => {
  let t: TestHub;
  let a: string;
  let b: string;
  let immA: string;
  let immB: string;
  let tokenA: string;
  let systemToken: string;

  const flush = () => new Promise((r) => setTimeout(r, 400)); // the audit buffer's flush interval
  const auditOf = async (patient: string): Promise<AuditEvent[]> => {
    await flush();
    const r = await request(t.url).get(`/auth/admin/audit?patient=${patient}&_count=1000`).set(ADMIN);
    expect(r.status).toBe(200);
    return (r.body.entry as Array<{ resource: AuditEvent }>).map((e) => e.resource);
  };
  const clientOf = (e: AuditEvent) => e.agent.find((g) => g.who?.identifier?.system === 'urn:vaxhub:oauth-client')?.who?.identifier?.value;
  const entityOf = (e: AuditEvent, ref: string): AuditEventEntity | undefined => e.entity?.find((x) => x.what?.reference === ref && x.role?.code === '4');
  const patientDetail = (x: AuditEventEntity | undefined) => x?.detail?.find((d) => d.type === 'patient')?.valueString;

  beforeAll(async () => {
    t = await startTestHub(backend, { devOpenAccess: false });
    const mk = async (family: string) =>
      (await request(t.url).post('/fhir/Patient').set(ADMIN).set('content-type', FHIR).send({ resourceType: 'Patient', name: [{ family, given: ['Audit'] }], birthDate: '1980-01-01' })).body.id as string;
    a = await mk('Auditalpha');
    b = await mk('Auditbravo');
    immA = (await request(t.url).post('/fhir/Immunization').set(ADMIN).set('content-type', FHIR).send(immunizationFor(a, 'LOT-AUD-A'))).body.id;
    immB = (await request(t.url).post('/fhir/Immunization').set(ADMIN).set('content-type', FHIR).send(immunizationFor(b, 'LOT-AUD-B'))).body.id;
    const cfg = { issuer: t.url, audience: t.fhirUrl };
    tokenA = (await issueAccessToken(t.hub.db, cfg, { client_id: 'audit-wallet', scope: 'patient/*.rs', kind: 'patient', patient: a, fhirUser: `Patient/${a}` }, 600)).token;
    systemToken = (await issueAccessToken(t.hub.db, cfg, { client_id: 'audit-registry', scope: 'system/Patient.rs system/Immunization.rs', kind: 'system' }, 300)).token;
  });
  afterAll(async () => {
    await t.close();
  });

  test('the audit writer\'s problems are on /metrics', async () => {
    const r = await request(t.url).get('/metrics').set(ADMIN);
    expect(r.status).toBe(200);
    expect(r.text).toMatch(/^# TYPE vaxhub_audit_write_problems_total counter$/m);
  });

  test("a patient's reads of their own record name them, never someone else", async () => {
    expect((await request(t.url).get(`/fhir/Immunization/${immA}`).set('authorization', `Bearer ${tokenA}`)).status).toBe(200);
    const ofA = await auditOf(a);
    const read = ofA.find((e) => clientOf(e) === 'audit-wallet' && entityOf(e, `Immunization/${immA}`));
    expect(patientDetail(entityOf(read!, `Immunization/${immA}`))).toBe(`Patient/${a}`);
    expect(read!.entity!.some((x) => x.role?.code === '1' && x.what?.reference === `Patient/${a}`)).toBe(true);
    expect((await auditOf(b)).some((e) => clientOf(e) === 'audit-wallet' && e.outcome === '0')).toBe(false);
  });

  test("another principal's search (the fast lane's stored-text answer) names each match's patient", async () => {
    const r = await request(t.url).get(`/fhir/Immunization?lot-number=LOT-AUD-B`).set('authorization', `Bearer ${systemToken}`);
    expect(r.status).toBe(200);
    expect(r.body.entry.map((e: { resource: { id: string } }) => e.resource.id)).toEqual([immB]);
    const search = (await auditOf(b)).find((e) => clientOf(e) === 'audit-registry' && e.subtype?.[0]?.code === 'search');
    expect(search).toBeDefined();
    expect(patientDetail(entityOf(search!, `Immunization/${immB}`))).toBe(`Patient/${b}`);
    // A search entity carries the query it ran.
    expect(search!.entity!.some((x) => x.role?.code === '24' && Buffer.from(x.query!, 'base64').toString() === 'lot-number=LOT-AUD-B')).toBe(true);
  });

  test('a Patient reference written inside a text is not taken for the resource\'s patient', async () => {
    const tricky = { ...immunizationFor(b, 'LOT-AUD-NOTE'), note: [{ text: `see {"reference": "Patient/${a}"}` }] };
    expect((await request(t.url).post('/fhir/Immunization').set(ADMIN).set('content-type', FHIR).send(tricky)).status).toBe(201);
    const r = await request(t.url).get('/fhir/Immunization?lot-number=LOT-AUD-NOTE').set('authorization', `Bearer ${systemToken}`);
    expect(r.body.entry).toHaveLength(1);
    const ev = (await auditOf(b)).find((e) => clientOf(e) === 'audit-registry' && e.entity?.some((x) => x.query && Buffer.from(x.query, 'base64').toString().includes('LOT-AUD-NOTE')));
    expect(patientDetail(entityOf(ev!, `Immunization/${r.body.entry[0].resource.id}`))).toBe(`Patient/${b}`);
    expect((await auditOf(a)).some((e) => e.id === ev!.id)).toBe(false);
  });

  test('includes are entities too, each with its patient', async () => {
    const r = await request(t.url).get(`/fhir/Immunization?lot-number=LOT-AUD-B&_include=Immunization:patient`).set(ADMIN);
    expect(r.status).toBe(200);
    expect(r.body.entry.map((e: { resource: { resourceType: string } }) => e.resource.resourceType).sort()).toEqual(['Immunization', 'Patient']);
    const ev = (await auditOf(b)).find((e) => clientOf(e) === undefined && e.entity?.some((x) => x.role?.code === '24' && Buffer.from(x.query!, 'base64').toString().includes('_include')));
    expect(patientDetail(entityOf(ev!, `Patient/${b}`))).toBe(`Patient/${b}`);
    expect(patientDetail(entityOf(ev!, `Immunization/${immB}`))).toBe(`Patient/${b}`);
  });

  test('a transaction is audited entry by entry, each with its own interaction and patient', async () => {
    const tx = await request(t.url).post('/fhir').set(ADMIN).set('content-type', FHIR).set('prefer', 'return=minimal').send({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: 'urn:uuid:0c0c0c0c-1111-4222-8333-444444444444', request: { method: 'POST', url: 'Patient' }, resource: { resourceType: 'Patient', name: [{ family: 'Auditcharlie' }] } },
        { request: { method: 'POST', url: 'Immunization' }, resource: { ...immunizationFor('x', 'LOT-AUD-C'), patient: { reference: 'urn:uuid:0c0c0c0c-1111-4222-8333-444444444444' } } },
        { request: { method: 'POST', url: 'Immunization' }, resource: immunizationFor(b, 'LOT-AUD-B2') },
        { request: { method: 'GET', url: `Immunization/${immA}` } },
      ],
    });
    expect(tx.status).toBe(200);
    const [patientC, immC, immB2] = (tx.body.entry as Array<{ response: { location: string } }>).slice(0, 3).map((e) => e.response.location.split('/').slice(-4, -2).join('/'));
    const c = patientC!.split('/')[1]!;
    const ofB = await auditOf(b);
    const txEvent = ofB.find((e) => entityOf(e, immB2!));
    expect(txEvent).toBeDefined();
    const detailOf = (x: AuditEventEntity | undefined, type: string) => x?.detail?.find((d) => d.type === type)?.valueString;
    expect(detailOf(entityOf(txEvent!, immB2!), 'interaction')).toBe('create');
    expect(patientDetail(entityOf(txEvent!, immB2!))).toBe(`Patient/${b}`);
    // The same event names the other entries' patients: the new patient (through its urn:uuid) and A's read.
    expect(patientDetail(entityOf(txEvent!, immC!))).toBe(`Patient/${c}`);
    expect(detailOf(entityOf(txEvent!, `Immunization/${immA}`), 'interaction')).toBe('read');
    expect(patientDetail(entityOf(txEvent!, `Immunization/${immA}`))).toBe(`Patient/${a}`);
    expect((await auditOf(c)).map((e) => e.id)).toContain(txEvent!.id);
    expect((await auditOf(a)).map((e) => e.id)).toContain(txEvent!.id);
  });

  test("a refused read of another patient's data, and a delete, name that patient", async () => {
    const refused = await request(t.url).get(`/fhir/Immunization/${immB}`).set('authorization', `Bearer ${tokenA}`);
    expect(refused.status).toBe(404);
    const victim = (await request(t.url).post('/fhir/Immunization').set(ADMIN).set('content-type', FHIR).send(immunizationFor(b, 'LOT-AUD-DEL'))).body.id as string;
    expect((await request(t.url).delete(`/fhir/Immunization/${victim}`).set(ADMIN)).status).toBeLessThan(300);
    const ofB = await auditOf(b);
    const attempt = ofB.find((e) => clientOf(e) === 'audit-wallet' && entityOf(e, `Immunization/${immB}`));
    expect(attempt?.outcome).toBe('4');
    expect(patientDetail(entityOf(attempt!, `Immunization/${immB}`))).toBe(`Patient/${b}`);
    const deletion = ofB.find((e) => e.action === 'D' && entityOf(e, `Immunization/${victim}`));
    expect(patientDetail(entityOf(deletion!, `Immunization/${victim}`))).toBe(`Patient/${b}`);
  });
});
