/**
 * POST /signup/assistant over real HTTP on both databases: anonymous, answers from the live clinic places (the
 * same rows $find reads), coded 400s naming the field, and nothing about the person stored.
 */
import { contextFor, seedClinic } from '../scheduling/support.js';
import { backends, type TestHub } from '../helpers/hub.js';
import { startOpeningNightHub } from './opening-night-hub.js';

const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);

describe.each(backends())('eligibility assistant over HTTP on %s', (backend) => {
  let t: TestHub;
  let nearId: string;
  beforeAll(async () => {
    t = await startOpeningNightHub(backend);
    const ctx = contextFor(t.hub.db);
    // Two clinics with the same current product (inactive products are never offered); positions make one near 60601 and the other 40 km away.
    const near = await seedClinic(ctx, { cvx: '312', day: tomorrow, slots: 4, capacity: 3, doses: 10, postalCode: '60601', city: 'Chicago' });
    const far = await seedClinic(ctx, { cvx: '312', day: tomorrow, slots: 2, capacity: 2, doses: 1, postalCode: '60101', city: 'Addison' });
    nearId = near.locationId;
    for (const [id, latitude] of [[near.locationId, 41.886], [far.locationId, 41.93]] as const) {
      const loc = await ctx.repo.read('Location', id);
      await ctx.repo.update({ ...loc, position: { latitude, longitude: id === far.locationId ? -87.99 : -87.62 } } as typeof loc);
    }
  }, 120_000);
  afterAll(async () => t?.close());

  const ask = (body: unknown): Promise<Response> =>
    fetch(`${t.url}/signup/assistant`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('answers an anonymous person from the rules and the live places, nearest clinic first', async () => {
    const before = (await t.hub.db.query<{ n: number }>('SELECT count(*)::int AS n FROM registrant')).rows[0]!.n;
    const res = await ask({ birthYear: 1940, postalCode: '60601', doses: [{ cvx: '207', date: new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10) }] });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const a = await res.json();
    expect(a.eligibility).toMatchObject({ status: 'eligible', tier: '1b', rule: { source: 'priority tiers', because: 'age 75+' } });
    expect(a.opening).toMatchObject({ status: 'not-scheduled' });
    expect(a.clinics[0]).toMatchObject({ id: nearId, postalCode: '60601', address: expect.stringContaining('Chicago') });
    // 4 slots x 3 places, but only 10 doses in stock: never more places than doses.
    expect(a.clinics[0].products).toEqual([expect.objectContaining({ cvx: '312', freePlaces: 10 })]);
    expect(a.clinics[1].products[0].freePlaces).toBe(1);
    expect(a.clinics[0].distanceKm).toBeLessThan(a.clinics[1].distanceKm);
    expect(a.nextDose).toMatchObject({ status: 'due', cvx: '207', doseNumber: 2, dosesInSeries: 2, rule: { source: 'vaccine products' } }); // no CDSI_DATA_DIR: the product rule
    expect(a.bring).toContain('bring.record');
    const after = (await t.hub.db.query<{ n: number }>('SELECT count(*)::int AS n FROM registrant')).rows[0]!.n;
    expect(after).toBe(before);
  });

  it('refuses bad answers with a 400 OperationOutcome naming the field, and bad JSON without a 500', async () => {
    const res = await ask({ birthYear: 1950, conditions: ['copd', 'not-a-condition'] });
    expect(res.status).toBe(400);
    const oo = await res.json();
    expect(oo.resourceType).toBe('OperationOutcome');
    expect(oo.issue[0].expression).toEqual(['conditions[1]']);
    const broken = await fetch(`${t.url}/signup/assistant`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"birthYear":' });
    expect(broken.status).toBe(400);
    expect((await broken.json()).resourceType).toBe('OperationOutcome');
  });
});
