/**
 * Searchset Bundles as FHIR JSON wants them, on both paths (the fast GET lane and Express via `_format`):
 * elements in R4's order (total before link and entry), and no empty `entry` array when nothing matched or for
 * `_summary=count`, nor in an empty history (FHIR JSON forbids empty arrays).
 */
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';

describe.each(backends())('searchset shape on %s', (backend) => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub(backend);
    const r = await fetch(`${t.fhirUrl}/Patient`, {
      method: 'POST', headers: { ...ADMIN, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Shapely' }] }),
    });
    expect(r.status).toBe(201);
  });
  afterAll(async () => t?.close());

  const keysOf = async (query: string): Promise<string[]> => {
    const r = await fetch(`${t.fhirUrl}/Patient?${query}`, { headers: { ...ADMIN, accept: 'application/fhir+json' } });
    expect(r.status).toBe(200);
    const text = await r.text();
    expect(text).not.toContain('"entry":[]');
    return Object.keys(JSON.parse(text) as object);
  };

  test.each(['', '&_format=json'])('no match, a count and a match (path%s)', async (format) => {
    expect(await keysOf(`family=Nobodyhere${format}`)).toEqual(['resourceType', 'type', 'timestamp', 'total', 'link']);
    expect(await keysOf(`family=Shapely&_summary=count${format}`)).toEqual(['resourceType', 'type', 'timestamp', 'total', 'link']);
    expect(await keysOf(`family=Shapely${format}`)).toEqual(['resourceType', 'type', 'timestamp', 'total', 'link', 'entry']);
    expect(await keysOf(`family=Shapely&_count=1&_total=none${format}`)).toEqual(['resourceType', 'type', 'timestamp', 'link', 'entry']);
  });

  test('an empty history has no entry array either', async () => {
    const r = await fetch(`${t.fhirUrl}/Immunization/_history`, { headers: { ...ADMIN, accept: 'application/fhir+json' } });
    expect(r.status).toBe(200);
    const body = (await r.json()) as object;
    expect(Object.keys(body)).toEqual(['resourceType', 'type', 'timestamp', 'total', 'link']);
    expect(body).toMatchObject({ type: 'history', total: 0 });
  });
});
