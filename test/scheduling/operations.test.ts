import { randomUUID } from 'node:crypto';
import type { Appointment, Bundle, OperationOutcome, Parameters } from 'fhir/r4';
import { ANONYMOUS, INTERNAL_SYSTEM } from '../../src/auth/principal.js';
import type { FhirRequest, OperationDefinition } from '../../src/fhir/types.js';
import { schedulingOperations } from '../../src/scheduling/operations/index.js';
import { contextFor, DB_KINDS, openTestDb, PRODUCTS, seedClinic, type TestDb } from './support.js';

describe.each(DB_KINDS)('scheduling operations on %s', (kind) => {
  let t: TestDb;
  let ops: Map<string, OperationDefinition>;
  beforeAll(async () => {
    t = await openTestDb(kind);
    ops = new Map(schedulingOperations({ products: PRODUCTS, bookingPortalUrl: 'https://hub.example.org/book' }).map((o) => [o.name, o]));
  });
  afterAll(async () => t.close());
  const call = (name: string, r: Partial<FhirRequest> & { id?: string }) => {
    const ctx = contextFor(t.db);
    return ops.get(name)!.handler({ method: 'POST', path: '', query: {}, headers: {}, principal: INTERNAL_SYSTEM, baseUrl: 'https://hub.example.org/fhir', ...r }, { db: ctx.db, repo: ctx.repo } as never);
  };
  const params = (...p: Parameters['parameter'] & object): Parameters => ({ resourceType: 'Parameters', parameter: p });

  it('$find -> $hold -> $book, and a refused $book answers the cancelled Appointment with the code', async () => {
    const ctx = contextFor(t.db);
    const postal = String(10000 + Math.floor(Math.random() * 89999));
    const c = await seedClinic(ctx, { capacity: 1, doses: 5, slots: 3, postalCode: postal });
    const found = await call('find', { method: 'GET', query: { start: '2030-03-04T00:00:00Z', end: '2030-03-05T00:00:00Z', 'location-string': postal, 'vaccine-product': '208', _count: '2' } });
    const bundle = found.body as Bundle;
    expect(bundle.entry).toHaveLength(2);
    expect(bundle.link?.find((l) => l.relation === 'next')).toBeDefined();
    const proposal = bundle.entry![0]!.resource as Appointment;
    expect(proposal.status).toBe('proposed');

    const held = await call('hold', { body: params({ name: 'appt-id', valueUri: `Appointment/${proposal.id}` }) });
    expect(held.status).toBe(200);
    expect(held.headers?.Expires).toBeDefined();
    const pending = (held.body as Bundle).entry![0]!.resource as Appointment;
    expect(pending.status).toBe('pending');

    const patient = `Patient/${randomUUID()}`;
    const booked = await call('book', { body: params({ name: 'appt-id', valueUri: `Appointment/${pending.id}` }, { name: 'patient-id', valueUri: patient }) });
    expect(((booked.body as Bundle).entry![0]!.resource as Appointment).status).toBe('booked');

    const refused = await call('book', { body: params({ name: 'appt-id', valueUri: `Appointment/${proposal.id}` }, { name: 'patient-id', valueUri: `Patient/${randomUUID()}` }) });
    expect(refused.status).toBe(409);
    const entries = (refused.body as Bundle).entry!.map((e) => e.resource!);
    expect((entries[0] as Appointment).status).toBe('cancelled');
    expect((entries[1] as OperationOutcome).issue[0]!.details?.coding?.[0]?.code).toBe('SLOT_FULL');
    expect(c.slotIds).toContain(proposal.id!.replace(/^slot\./, ''));
  });

  it('$find requires start and end', async () => {
    await expect(call('find', { method: 'GET', query: { start: '2030-03-04' } })).rejects.toMatchObject({ status: 400 });
  });

  it('$bulk-publish: manifest and files with capacity, cached with ETag and 304', async () => {
    const ctx = contextFor(t.db);
    await seedClinic(ctx, { capacity: 4, doses: 10 });
    const m = await call('bulk-publish', { method: 'GET', principal: ANONYMOUS });
    expect(m.status).toBe(200);
    const manifest = JSON.parse(m.body as string);
    expect(manifest).toMatchObject({ request: 'https://hub.example.org/fhir/$bulk-publish', error: [] });
    expect(manifest.output.map((o: { type: string }) => o.type).sort()).toEqual(expect.arrayContaining(['Location', 'Schedule', 'Slot']));
    const slotFile = manifest.output.find((o: { type: string }) => o.type === 'Slot');
    expect(slotFile.extension.state).toEqual(['MA']);
    const file = await call('bulk-publish', { method: 'GET', principal: ANONYMOUS, query: { file: new URL(slotFile.url).searchParams.get('file')! } });
    expect(file.headers?.['Content-Type']).toBe('application/fhir+ndjson');
    const slot = JSON.parse((file.body as string).split('\n')[0]!);
    expect(slot.extension.map((e: { url: string }) => e.url.split('/').pop())).toEqual(['booking-deep-link', 'booking-phone', 'slot-capacity']);
    const again = await call('bulk-publish', { method: 'GET', principal: ANONYMOUS, headers: { 'if-none-match': m.headers!.ETag } });
    expect(again.status).toBe(304);
    expect(m.headers!['Cache-Control']).toMatch(/max-age=60/);
  });
});
