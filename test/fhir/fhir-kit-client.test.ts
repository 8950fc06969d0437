/**
 * The hub through a real FHIR client, fhir-kit-client 2 (ESM-only; it has no default export, so
 * `import { Client } from 'fhir-kit-client'`): create, read, vread, update, search with paging via
 * nextPage, transaction, batch, delete and error surfaces.
 */
import { Client } from 'fhir-kit-client';
import type { Bundle, Immunization, OperationOutcome, Patient } from 'fhir/r4';
import { ADMIN_TOKEN, backends, startTestHub, type TestHub } from '../helpers/hub.js';

const CVX = 'http://hl7.org/fhir/sid/cvx';

interface HttpError {
  response: { status: number; data: unknown };
}

async function failure(p: Promise<unknown>): Promise<HttpError['response']> {
  try {
    await p;
  } catch (e) {
    return (e as HttpError).response;
  }
  throw new Error('expected the request to fail');
}

describe.each(backends())('fhir-kit-client against the hub on %s', (backend) => {
  let t: TestHub;
  let client: Client;
  beforeAll(async () => {
    t = await startTestHub(backend);
    client = new Client({ baseUrl: t.fhirUrl, bearerToken: ADMIN_TOKEN });
  });
  afterAll(async () => {
    await t.close();
  });

  test('capability statement, create, read, vread, update, delete', async () => {
    const cs = (await client.capabilityStatement()) as unknown as { fhirVersion: string; rest: Array<{ resource: Array<{ type: string }> }> };
    expect(cs.fhirVersion).toBe('4.0.1');
    expect(cs.rest[0]!.resource.map((r) => r.type)).toEqual(expect.arrayContaining(['Patient', 'Immunization', 'Slot']));

    const created = (await client.create({
      resourceType: 'Patient',
      body: { resourceType: 'Patient', identifier: [{ system: 'urn:test:fkc', value: 'K-1' }], name: [{ family: 'Kit', given: ['Cli'] }], birthDate: '1970-07-07' },
    })) as unknown as Patient;
    expect(created.id).toBeDefined();
    expect(created.meta?.versionId).toBe('1');

    const read = (await client.read({ resourceType: 'Patient', id: created.id! })) as unknown as Patient;
    expect(read.name![0]!.family).toBe('Kit');

    const updated = (await client.update({ resourceType: 'Patient', id: created.id!, body: { ...read, gender: 'other' } })) as unknown as Patient;
    expect(updated.meta?.versionId).toBe('2');
    const v1 = (await client.vread({ resourceType: 'Patient', id: created.id!, version: '1' })) as unknown as Patient;
    expect(v1.gender).toBeUndefined();

    const history = (await client.history({ resourceType: 'Patient', id: created.id! })) as unknown as Bundle;
    expect(history.type).toBe('history');
    expect(history.entry).toHaveLength(2);

    await client.delete({ resourceType: 'Patient', id: created.id! });
    const gone = await failure(client.read({ resourceType: 'Patient', id: created.id! }));
    expect(gone.status).toBe(410);
    expect((gone.data as OperationOutcome).resourceType).toBe('OperationOutcome');
  });

  test('search pages through nextPage until every match is seen once', async () => {
    const patient = (await client.create({ resourceType: 'Patient', body: { resourceType: 'Patient', name: [{ family: 'Pager' }] } })) as unknown as Patient;
    const entry = Array.from({ length: 23 }, (_, i) => ({
      resource: {
        resourceType: 'Immunization', primarySource: true,
        status: 'completed',
        vaccineCode: { coding: [{ system: CVX, code: i % 2 ? '207' : '208' }] },
        patient: { reference: `Patient/${patient.id}` },
        occurrenceDateTime: `2021-0${1 + (i % 9)}-1${i % 10}`,
        lotNumber: `PAGE-${i}`,
      },
      request: { method: 'POST', url: 'Immunization' },
    }));
    const batch = (await client.batch({ body: { resourceType: 'Bundle', type: 'batch', entry } })) as unknown as Bundle;
    expect(batch.entry!.every((e) => e.response!.status.startsWith('201'))).toBe(true);

    let page = (await client.search({ resourceType: 'Immunization', searchParams: { patient: `Patient/${patient.id}`, _count: 5, _sort: '-date' } })) as unknown as Bundle;
    const seen: string[] = [];
    const dates: string[] = [];
    let pages = 0;
    for (;;) {
      pages++;
      for (const e of page.entry ?? []) {
        seen.push(e.resource!.id!);
        dates.push((e.resource as Immunization).occurrenceDateTime!);
      }
      const next = client.nextPage({ bundle: page as never });
      if (!next) break;
      page = (await next) as unknown as Bundle;
    }
    expect(pages).toBe(5);
    expect(seen).toHaveLength(23);
    expect(new Set(seen).size).toBe(23);
    expect([...dates].sort().reverse()).toEqual(dates);

    const filtered = (await client.search({ resourceType: 'Immunization', searchParams: { patient: patient.id!, 'vaccine-code': `${CVX}|207`, _summary: 'count' } })) as unknown as Bundle;
    expect(filtered.total).toBe(11);
  });

  test('transaction with urn:uuid references', async () => {
    const pid = 'urn:uuid:3f0d7b54-9a7e-4d9e-8d1f-4bb0c1e5a7a1';
    const res = (await client.transaction({
      body: {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { fullUrl: pid, resource: { resourceType: 'Patient', identifier: [{ system: 'urn:test:fkc', value: 'TX-1' }], name: [{ family: 'Tx' }] }, request: { method: 'POST', url: 'Patient' } },
          {
            resource: { resourceType: 'Immunization', primarySource: true, status: 'completed', vaccineCode: { coding: [{ system: CVX, code: '208' }] }, patient: { reference: pid }, occurrenceDateTime: '2021-05-05', lotNumber: 'TX' },
            request: { method: 'POST', url: 'Immunization' },
          },
        ],
      },
    })) as unknown as Bundle;
    expect(res.type).toBe('transaction-response');
    const patientId = (res.entry![0]!.resource as Patient).id;
    expect((res.entry![1]!.resource as Immunization).patient.reference).toBe(`Patient/${patientId}`);
    const found = (await client.search({ resourceType: 'Immunization', searchParams: { 'patient.identifier': 'urn:test:fkc|TX-1' } })) as unknown as Bundle;
    expect(found.entry).toHaveLength(1);

    const failed = await failure(
      client.transaction({
        body: {
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [
            { resource: { resourceType: 'Patient', name: [{ family: 'Never' }], identifier: [{ system: 'urn:test:fkc', value: 'NEVER' }] }, request: { method: 'POST', url: 'Patient' } },
            // Valid R4, but the hub's profile wants start < end: 422 and the Patient above is not kept.
            {
              resource: { resourceType: 'Slot', status: 'free', schedule: { reference: 'Schedule/x' }, start: '2021-01-01T10:00:00Z', end: '2021-01-01T09:00:00Z' },
              request: { method: 'POST', url: 'Slot' },
            },
          ],
        },
      }),
    );
    expect(failed.status).toBe(422);
    const none = (await client.search({ resourceType: 'Patient', searchParams: { identifier: 'urn:test:fkc|NEVER' } })) as unknown as Bundle;
    expect(none.entry ?? []).toHaveLength(0);
  });

  test('errors come back as OperationOutcomes the client can read', async () => {
    const missing = await failure(client.read({ resourceType: 'Patient', id: 'nobody-here' }));
    expect(missing.status).toBe(404);
    expect((missing.data as OperationOutcome).issue[0]!.severity).toBe('error');
    const badSearch = await failure(client.search({ resourceType: 'Patient', searchParams: { birthdate: 'someday' } }));
    expect(badSearch.status).toBe(400);
    const unsupported = await failure(client.read({ resourceType: 'Medication', id: '1' }));
    expect(unsupported.status).toBe(404);
  });
});
