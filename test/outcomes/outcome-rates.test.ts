/**
 * Outcomes against doses over HTTP (issue 24), on PGlite and PostgreSQL: a seeded population written through FHIR
 * transactions (doses, positive and negative tests, confirmed and provisional diagnoses), the operators' table read
 * from /admin/outcomes/rates and checked cell by cell against the day-by-day truth, the CSV download, bad input,
 * and the published MeasureReport exported by a registry through Bulk Data. No identifier of anyone in any output.
 */
import type { Bundle, MeasureReport, OperationOutcome } from 'fhir/r4';
import { ADMIN, backends } from '../helpers/hub.js';
import { registerBackendClient, startSyncHub, type SyncTestHub } from '../sync/sync-hub.js';
import { runExport } from '../sync/bulk-client.js';
import { rateOf, type RateRow, type RateTable } from '../../src/outcomes/table.js';
import { asFhir, expectedCells, generatePopulation, transactions } from './outcome-population.js';

process.env.BULK_POLL_INTERVAL_MS = '200';
process.env.BULK_WORKER_POLL_MS = '50';

const FROM = '2021-01-01';
const TO = '2021-12-31';
const TAG = 'oc';
const people = generatePopulation(77, { people: 260, campaignDays: ['2021-01-10', '2021-04-01'], products: ['208', '208', '207'], attack: 0.6 });
const truth = expectedCells(people, FROM, TO);

/** The fields of one RFC 4180 line (quoted fields may hold commas and doubled quotes). */
function csvFields(line: string): string[] {
  return [...line.matchAll(/(?:^|,)(?:"((?:[^"]|"")*)"|([^,]*))/g)].map((m) => (m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2]!));
}

function keyOf(t: RateTable, r: RateRow): string {
  return r.unvaccinated ? 'unvaccinated' : `${r.product!.cvx}|${r.doseNumber}|${t.rules.bands.findIndex((b) => b.from === r.band!.from)}`;
}

describe.each(backends())('outcome rates on %s', (backend) => {
  let t: SyncTestHub;
  const get = (path: string, headers: Record<string, string> = ADMIN): Promise<Response> => fetch(`${t.url}${path}`, { headers });

  beforeAll(async () => {
    t = await startSyncHub(backend);
    for (const b of transactions(people.flatMap((p) => asFhir(p, TAG)))) {
      const res = await fetch(t.fhirUrl, { method: 'POST', headers: { ...ADMIN, 'content-type': 'application/fhir+json' }, body: JSON.stringify(b) });
      if (res.status !== 200) throw new Error(`transaction: ${res.status} ${await res.text()}`);
    }
  }, 600_000);
  afterAll(async () => {
    await t?.close();
  });

  test('the table equals the day-by-day truth, small counts hidden, no hidden count alone in a sum', async () => {
    const res = await get(`/admin/outcomes/rates?outcome=covid-19&from=${FROM}&to=${TO}`);
    expect(res.status).toBe(200);
    const text = await res.text();
    const table = JSON.parse(text) as RateTable;
    expect(table).toMatchObject({ outcome: { code: 'covid-19' }, period: { from: FROM, to: TO }, rules: { doseEffectDays: 14, denominator: 'person-days', smallCellMax: 10 } });
    const cells = table.rows.filter((r) => r.kind === 'cell');
    expect(new Set(cells.map((r) => keyOf(table, r)))).toEqual(new Set(truth.keys()));
    let shownCounts = 0;
    for (const r of cells) {
      const want = truth.get(keyOf(table, r))!;
      expect([keyOf(table, r), r.personDays, r.personsShown]).toEqual([keyOf(table, r), want.personDays, want.persons >= 1 && want.persons <= 10 ? '<11' : String(want.persons)]);
      if (want.outcomes >= 1 && want.outcomes <= 10) expect([r.outcomesShown, r.suppressed, r.rate]).toEqual(['<11', 'small-count', null]);
      else if (r.suppressed) expect([r.suppressed, r.outcomes, r.rate]).toEqual(['complementary', null, null]);
      else {
        expect([r.outcomes, r.rate]).toEqual([want.outcomes, rateOf(want.outcomes, want.personDays)]);
        if (want.outcomes > 10) shownCounts++;
      }
    }
    // The population fills cells past the small-cell bound, so the table shows rates, not only "<11".
    expect(shownCounts).toBeGreaterThan(0);
    const total = table.rows.find((r) => r.kind === 'total')!;
    expect(total.personDays).toBe([...truth.values()].reduce((s, c) => s + c.personDays, 0));
    const sums: RateRow[][] = table.rows.filter((r) => r.kind === 'product').map((sub) => [sub, ...cells.filter((c) => c.product?.cvx === sub.product!.cvx)]);
    sums.push([total, ...table.rows.filter((r) => r.kind === 'product' || r.unvaccinated)]);
    for (const s of sums) expect(s.filter((r) => r.suppressed).length).not.toBe(1);
    // De-identified: no person's id, no reference, none of the tags the records carry.
    expect(text).not.toContain(`${TAG}-p`);
    expect(text).not.toContain('Patient/');
  });

  test('CSV: the same rows, one line each, cells that cannot start a formula', async () => {
    const json = (await (await get(`/admin/outcomes/rates?from=${FROM}&to=${TO}`)).json()) as RateTable;
    const res = await get(`/admin/outcomes/rates?from=${FROM}&to=${TO}&format=csv`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="outcome-rates-covid-19-${FROM}-${TO}.csv"`);
    const lines = (await res.text()).replace(/^\uFEFF/, '').trimEnd().split('\r\n');
    expect(lines[0]).toBe('outcome,period_from,period_to,row,product_cvx,product,dose_number,days_since_last_dose,persons,person_days,outcomes,rate_per_100000_person_days,suppressed');
    expect(lines).toHaveLength(json.rows.length + 1);
    json.rows.forEach((r, i) => {
      const cols = csvFields(lines[i + 1]!);
      expect([cols[3], cols[8], cols[9], cols[10], cols[11], cols[12]]).toEqual([
        r.kind === 'cell' ? (r.unvaccinated ? 'unvaccinated' : 'cell') : r.kind, r.personsShown, String(r.personDays), r.outcomesShown, r.rate === null ? '' : String(r.rate), r.suppressed ?? '',
      ]);
    });
    expect(lines.slice(1).every((l) => csvFields(l).every((c) => !/^[=+\-@\t\r]/.test(c)))).toBe(true);
  });

  test('bad input is a 400 OperationOutcome naming the parameter; no operator credentials, 401', async () => {
    for (const [query, expression] of [['outcome=measles', 'outcome'], ['from=2021-02-30', 'from'], ['from=2022-01-01&to=2021-01-01', 'from'], ['from=1990-01-01&to=2021-01-01', 'from'], ['format=xlsx', 'format']] as const) {
      const res = await get(`/admin/outcomes/rates?${query}`);
      const oo = (await res.json()) as OperationOutcome;
      expect([query, res.status, oo.resourceType, oo.issue[0]!.expression]).toEqual([query, 400, 'OperationOutcome', [expression]]);
    }
    expect((await get('/admin/outcomes/rates', {})).status).toBe(401);
    const post = await fetch(`${t.url}/admin/outcomes/reports`, { method: 'POST', headers: { ...ADMIN, 'content-type': 'application/json' }, body: '[1]' });
    expect(post.status).toBe(400);
  });

  test('a published MeasureReport holds the table as shown and reaches a registry through Bulk Data', async () => {
    const table = (await (await get(`/admin/outcomes/rates?from=${FROM}&to=${TO}`)).json()) as RateTable;
    const res = await fetch(`${t.url}/admin/outcomes/reports`, { method: 'POST', headers: { ...ADMIN, 'content-type': 'application/json' }, body: JSON.stringify({ outcome: 'covid-19', from: FROM, to: TO }) });
    expect(res.status).toBe(201);
    const report = (await res.json()) as MeasureReport;
    expect(res.headers.get('location')).toBe(`MeasureReport/${report.id}`);
    expect(report).toMatchObject({ resourceType: 'MeasureReport', status: 'complete', type: 'summary', period: { start: FROM, end: TO } });
    expect(report.subject).toBeUndefined();
    const numerator = (pops: NonNullable<MeasureReport['group']>[number]['population']) => pops?.find((p) => p.code?.coding?.[0]?.code === 'numerator');
    const cells = report.group![0]!.stratifier![1]!.stratum!;
    const tableCells = table.rows.filter((r) => r.kind === 'cell');
    expect(cells).toHaveLength(tableCells.length);
    cells.forEach((s, i) => {
      const n = numerator(s.population)!;
      const row = tableCells[i]!;
      if (row.suppressed) expect([n.count, (n as { _count?: { extension?: Array<{ valueCode?: string }> } })._count?.extension?.map((e) => e.valueCode)]).toEqual([undefined, ['masked', row.suppressed]]);
      else expect(n.count).toBe(row.outcomes);
    });

    const registry = await registerBackendClient(t.url, { scope: 'system/MeasureReport.rs' });
    const run = await runExport(`${t.fhirUrl}/$export?_type=MeasureReport`, await registry.token());
    expect(run.manifest.output.map((o) => o.type)).toEqual(['MeasureReport']);
    const exported = run.output.MeasureReport!;
    expect(exported.map((r) => r.id)).toContain(report.id);
    const text = JSON.stringify(exported);
    expect(text).not.toContain(`${TAG}-p`);
    expect(text).not.toContain('Patient/');
    // The registry reads it by FHIR search too, and may not read anyone's tests.
    const token = await registry.token();
    const found = (await (await fetch(`${t.fhirUrl}/MeasureReport?_id=${report.id}`, { headers: { authorization: `Bearer ${token}` } })).json()) as Bundle;
    expect(found.entry).toHaveLength(1);
    expect((await fetch(`${t.fhirUrl}/Observation`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(403);
  });
});
