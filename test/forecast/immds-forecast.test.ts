/**
 * `$immds-forecast` over real HTTP on loopback (issue 23): every case of CDC's CDSi test cases v4.8 part through the
 * operation, at least 98% exactly as CDC expects; bad input answered 4xx naming the parameter; an unknown CVX reported, not dropped; the
 * stored-patient form with the hub's dose-trust rules and access (a patient only for themselves); the stored
 * recommendation rewritten when a dose is written. CDC's cases are read and judged by the direct-engine harness's
 * module (./cdsi-cases.ts), so both runs apply one rule. The system-level operation is stateless, so the case run uses
 * PGlite only; the stored-patient parts run on every backend.
 */
import type { ImmunizationEvaluation, ImmunizationRecommendation, OperationOutcome, Parameters } from 'fhir/r4';
import { ADMIN, backends, startTestHub, type Backend, type TestHub } from '../helpers/hub.js';
import { compareCase, loadCases, SUPPORTING_DATA } from './cdsi-cases.js';
import { caseParameters, readGolden, sha } from './golden-answers.js';
import { issueAccessToken } from '../../src/auth/token-service.js';
import { forecastRecommendationId } from '../../src/forecast/stored-recommendation.js';
import type { CdsiEngine, DoseEvaluation, DoseIssue, ForecastResult, ForecastStatus, GroupForecast, VaccineGroupInfo } from '../../src/forecast/engine.js';

const CVX = 'http://hl7.org/fhir/sid/cvx';
const FHIR_JSON = 'application/fhir+json';
/** A JSON answer: a Parameters, a resource or an OperationOutcome, read as each test expects. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a test reads whichever shape the hub answered
type Answer = any;

async function post(t: TestHub, path: string, body: unknown, headers: Record<string, string> = ADMIN): Promise<{ status: number; body: Answer }> {
  const r = await fetch(`${t.fhirUrl}/${path}`, { method: 'POST', headers: { 'content-type': FHIR_JSON, accept: FHIR_JSON, ...headers }, body: JSON.stringify(body) });
  return { status: r.status, body: await r.json() };
}

async function get(t: TestHub, path: string, headers: Record<string, string> = ADMIN): Promise<{ status: number; body: Answer }> {
  const r = await fetch(`${t.fhirUrl}/${path}`, { headers: { accept: FHIR_JSON, ...headers } });
  return { status: r.status, body: await r.json() };
}

const resources = <T>(p: Parameters, name: string): T[] => (p.parameter ?? []).filter((x) => x.name === name).map((x) => x.resource as T);
const loinc = (rec: ImmunizationRecommendation['recommendation'][number], code: string) => rec.dateCriterion?.find((d) => d.code.coding?.some((c) => c.code === code))?.value;
const codeIn = (cc: { coding?: Array<{ system?: string; code?: string }> } | undefined, suffix: string) => cc?.coding?.find((c) => c.system?.endsWith(suffix))?.code;

/**
 * The operation's answer read back into the engine's shapes from the FHIR resources alone (group names and antigens
 * from each recommendation, statuses from the CDSi codings), so the HTTP answer is judged by the same comparison as
 * the direct-engine harness (./cdsi-cases.ts), with this "engine" answering what the hub answered over HTTP.
 */
export function answeredAsEngine(answer: Parameters): Pick<CdsiEngine, 'forecast' | 'vaccineGroups'> {
  const rec = resources<ImmunizationRecommendation>(answer, 'recommendation')[0]!;
  const groups: VaccineGroupInfo[] = rec.recommendation.map((r) => ({
    name: r.vaccineCode![0]!.text!, groupCvx: r.vaccineCode![0]!.coding![0]!.code!, groupDisplay: r.vaccineCode![0]!.coding![0]!.display ?? '', antigens: (r.targetDisease?.text ?? '').split(', '),
  }));
  const groupOf = (antigen: string) => groups.find((g) => g.antigens.includes(antigen))?.name ?? '';
  const evaluations: DoseEvaluation[] = [];
  const issues: DoseIssue[] = [];
  for (const e of resources<ImmunizationEvaluation>(answer, 'evaluation')) {
    const doseId = e.immunizationEvent.reference!.replace(/^Immunization\//, '');
    const status = codeIn(e.doseStatus, '/cdsi-evaluation-status') as DoseEvaluation['status'] | undefined;
    const reasons = (e.doseStatusReason ?? []).map((r) => r.text ?? '');
    if (!status) {
      issues.push({ doseId, cvx: '', problem: reasons.join('; ') });
      continue;
    }
    const antigen = e.targetDisease.text ?? '';
    evaluations.push({
      doseId, antigen, vaccineGroup: groupOf(antigen), targetDisease: { code: antigen, display: antigen }, status, reasons,
      ...(e.series ? { seriesName: e.series } : {}), ...(e.doseNumberPositiveInt ? { doseNumber: e.doseNumberPositiveInt } : {}), cvx: '', date: '',
    });
  }
  const forecasts: GroupForecast[] = rec.recommendation.map((r, i) => ({
    vaccineGroup: groups[i]!.name, groupCvx: groups[i]!.groupCvx, groupDisplay: groups[i]!.groupDisplay, targetDiseases: [], antigens: [],
    status: (codeIn(r.forecastStatus, '/cdsi-forecast-status') ?? '').replace('-', ' ') as ForecastStatus,
    ...(r.doseNumberPositiveInt ? { doseNumber: r.doseNumberPositiveInt } : {}),
    ...(loinc(r, '30981-5') ? { earliest: loinc(r, '30981-5') } : {}),
    ...(loinc(r, '30980-7') ? { recommended: loinc(r, '30980-7') } : {}),
    ...(loinc(r, '59778-1') ? { pastDue: loinc(r, '59778-1') } : {}),
    ...(loinc(r, '59777-3') ? { latest: loinc(r, '59777-3') } : {}),
    ...(r.forecastReason?.[0]?.text ? { reason: r.forecastReason[0].text } : {}),
    ...(r.series ? { seriesName: r.series } : {}),
  }));
  const result: ForecastResult = { evaluations, forecasts, issues };
  return { forecast: () => result, vaccineGroups: groups };
}

describe('$immds-forecast: CDC CDSi test cases through the HTTP operation', () => {
  let t: TestHub;
  beforeAll(async () => {
    t = await startTestHub('pglite', { devOpenAccess: false, cdsiDataDir: SUPPORTING_DATA });
  }, 120_000);
  afterAll(async () => t?.close());

  it('answers at least 98% of the v4.8 cases exactly as CDC expects (doses and forecast)', async () => {
    const cases = loadCases();
    const golden = readGolden().answer;
    const failures: string[] = [];
    // The bytes of each answer over HTTP are the golden file's (test/forecast/golden-answers.ts): the HTTP path
    // (fast lane or Express) writes the operation's answer unchanged.
    const moved: string[] = [];
    for (const c of cases) {
      const r = await fetch(`${t.fhirUrl}/$immds-forecast`, { method: 'POST', headers: { 'content-type': FHIR_JSON, accept: FHIR_JSON, ...ADMIN }, body: JSON.stringify(caseParameters(c)) });
      const text = await r.text();
      if (`${r.status} ${sha(text)}` !== golden[c.id]) moved.push(c.id);
      if (r.status !== 200) {
        failures.push(`${c.id} ${c.name}: HTTP ${r.status} ${text.slice(0, 300)}`);
        continue;
      }
      const problems = compareCase(answeredAsEngine(JSON.parse(text) as Parameters) as CdsiEngine, c);
      if (problems.length) failures.push(`${c.id} ${c.name}: ${problems.join('; ')}`);
    }
    const passed = cases.length - failures.length;
    const rate = passed / cases.length;
    if (rate < 0.98) throw new Error(`${passed}/${cases.length} cases pass (${(rate * 100).toFixed(1)}%), below 98%:\n${failures.join('\n')}`);
    expect(rate).toBeGreaterThanOrEqual(0.98);
    expect(moved).toEqual([]);
  }, 600_000);

  it('names every vaccine group by its CVX unspecified-formulation code, with LOINC dates', async () => {
    const c = loadCases().find((x) => x.id === '2013-0002')!;
    const r = await post(t, '$immds-forecast', caseParameters(c));
    expect(r.status).toBe(200);
    const rec = resources<ImmunizationRecommendation>(r.body, 'recommendation');
    expect(rec).toHaveLength(1);
    const byGroup = new Map(rec[0]!.recommendation.map((x) => [x.vaccineCode![0]!.text, x]));
    const expected: Record<string, string> = { 'DTaP/Tdap/Td': '107', Polio: '89', Hib: '17', HepB: '45', HepA: '85', MMR: '03', Varicella: '21', Pneumococcal: '152', Rotavirus: '122', HPV: '137', Meningococcal: '108', Zoster: '188', Influenza: '88', 'COVID-19': '213' };
    for (const [group, cvx] of Object.entries(expected)) {
      expect(byGroup.get(group)?.vaccineCode?.[0]?.coding?.[0]).toMatchObject({ system: CVX, code: cvx });
      expect(byGroup.get(group)?.targetDisease?.coding?.length).toBeGreaterThan(0);
    }
    const dtap = byGroup.get('DTaP/Tdap/Td')!;
    expect(dtap.dateCriterion!.map((d) => d.code.coding![0]!.code)).toEqual(expect.arrayContaining(['30981-5', '30980-7', '59778-1']));
    expect(dtap.forecastStatus.coding!.map((x) => x.code)).toEqual(expect.arrayContaining(['due', 'not-complete']));
    // Each dose evaluated per antigen of the group, referencing the input by its id.
    const evals = resources<ImmunizationEvaluation>(r.body, 'evaluation').filter((e) => ['Diphtheria', 'Tetanus', 'Pertussis'].includes(e.targetDisease.text!));
    expect(evals.map((e) => e.immunizationEvent.reference).sort()).toEqual(['Immunization/dose1', 'Immunization/dose1', 'Immunization/dose1', 'Immunization/dose2', 'Immunization/dose2', 'Immunization/dose2']);
    const tooYoung = evals.find((e) => e.immunizationEvent.reference === 'Immunization/dose2')!;
    expect(tooYoung.doseStatus.coding).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'notvalid' })]));
    expect(tooYoung.patient.reference).toBe('Patient/case-2013-0002');
  });

  it('says in /fhir/metadata that the CDSi engine forecasts, and lists the operation with its guide canonical', async () => {
    const cs = (await get(t, 'metadata', {})).body;
    expect(cs.extension.find((e: { url: string }) => e.url.endsWith('/forecast-rules')).valueString).toMatch(/^cdsi: CDC CDSi supporting data /);
    expect(cs.implementation.description).toContain('CDC CDSi engine');
    expect(cs.rest[0].operation).toEqual(expect.arrayContaining([{ name: 'immds-forecast', definition: 'http://hl7.org/fhir/us/immds/OperationDefinition/ImmDSForecastOperation' }]));
    const od = (await get(t, `OperationDefinition?url=${encodeURIComponent('http://hl7.org/fhir/us/immds/OperationDefinition/ImmDSForecastOperation')}`, {})).body;
    expect(od.entry[0].resource.parameter.map((p: { name: string }) => p.name)).toEqual(['assessmentDate', 'patient', 'immunization', 'evaluation', 'recommendation', 'information']);
  });

  it('refuses bad input with a 400 OperationOutcome naming the parameter, never a 500', async () => {
    const base = (over: Partial<Record<'birthDate' | 'dose' | 'assessmentDate', unknown>> = {}): Record<string, unknown> => ({
      resourceType: 'Parameters',
      parameter: [
        ...(over.assessmentDate === null ? [] : [{ name: 'assessmentDate', valueDate: (over.assessmentDate as string) ?? '2024-06-01' }]),
        { name: 'patient', resource: { resourceType: 'Patient', id: 'p', ...(over.birthDate === null ? {} : { birthDate: (over.birthDate as string) ?? '2020-01-15' }), gender: 'female' } },
        { name: 'immunization', resource: { resourceType: 'Immunization', id: 'd1', status: 'completed', patient: { reference: 'Patient/p' }, vaccineCode: { coding: [{ system: CVX, code: '08' }] }, occurrenceDateTime: (over.dose as string) ?? '2020-01-16' } },
      ],
    });
    const expectRefusal = async (body: unknown, expression: string, status = 400) => {
      const r = await post(t, '$immds-forecast', body);
      expect(r.status).toBe(status);
      const oo = r.body as OperationOutcome;
      expect(oo.resourceType).toBe('OperationOutcome');
      expect(oo.issue.flatMap((i) => i.expression ?? [])).toContain(expression);
    };
    await expectRefusal(base({ birthDate: null }), 'patient.birthDate');
    await expectRefusal(base({ birthDate: '2020-02' }), 'patient.birthDate');
    await expectRefusal(base({ dose: '2019-12-31' }), 'immunization[0].occurrenceDateTime');
    await expectRefusal(base({ dose: '2099-01-01' }), 'immunization[0].occurrenceDateTime');
    await expectRefusal(base({ assessmentDate: null }), 'assessmentDate');
    await expectRefusal(base({ assessmentDate: 'June 1st' }), 'assessmentDate');
    await expectRefusal({ resourceType: 'Patient', birthDate: '2020-01-01' }, 'Parameters');
    await expectRefusal({ resourceType: 'Parameters', parameter: [{ name: 'assessmentDate', valueDate: '2024-06-01' }, { name: 'patient', resource: { resourceType: 'Patient', birthDate: '2020-01-01' } }, { name: 'immunization', resource: { resourceType: 'Immunization', id: 'x', status: 'completed', vaccineCode: { text: 'a flu shot' }, occurrenceDateTime: '2021-01-01' } }] }, 'immunization[0].vaccineCode');
    await expectRefusal({ resourceType: 'Parameters', parameter: [{ name: 'assessmentDate', valueDate: '2024-06-01' }, { name: 'patient', resource: { resourceType: 'Observation' } }] }, 'patient');
    // Every problem at once.
    const all = await post(t, '$immds-forecast', base({ birthDate: null, assessmentDate: null }));
    expect((all.body as OperationOutcome).issue.flatMap((i) => i.expression)).toEqual(expect.arrayContaining(['patient.birthDate', 'assessmentDate']));
    // Not JSON at all.
    const raw = await fetch(`${t.fhirUrl}/$immds-forecast`, { method: 'POST', headers: { 'content-type': FHIR_JSON, ...ADMIN }, body: '{"resourceType": "Parameters", ' });
    expect(raw.status).toBe(400);
    // Without a token: 401, as any FHIR call.
    expect((await post(t, '$immds-forecast', base(), {})).status).toBe(401);
  });

  it('reports an unknown CVX as an evaluation and a warning, and evaluates the rest', async () => {
    const r = await post(t, '$immds-forecast', {
      resourceType: 'Parameters',
      parameter: [
        { name: 'assessmentDate', valueDate: '2021-06-01' },
        { name: 'patient', resource: { resourceType: 'Patient', id: 'u', birthDate: '2021-01-01', gender: 'male' } },
        { name: 'immunization', resource: { resourceType: 'Immunization', id: 'known', status: 'completed', patient: { reference: 'Patient/u' }, vaccineCode: { coding: [{ system: CVX, code: '08' }] }, occurrenceDateTime: '2021-01-02' } },
        { name: 'immunization', resource: { resourceType: 'Immunization', id: 'mystery', status: 'completed', patient: { reference: 'Patient/u' }, vaccineCode: { coding: [{ system: CVX, code: '9999' }] }, occurrenceDateTime: '2021-03-01' } },
        { name: 'immunization', resource: { resourceType: 'Immunization', id: 'refused', status: 'not-done', patient: { reference: 'Patient/u' }, vaccineCode: { coding: [{ system: CVX, code: '08' }] }, occurrenceDateTime: '2021-03-01' } },
      ],
    });
    expect(r.status).toBe(200);
    const evals = resources<ImmunizationEvaluation>(r.body, 'evaluation');
    const mystery = evals.filter((e) => e.immunizationEvent.reference === 'Immunization/mystery');
    expect(mystery).toHaveLength(1);
    expect(mystery[0]!.doseStatusReason![0]!.coding![0]!.code).toBe('unknown-vaccine');
    expect(evals.some((e) => e.immunizationEvent.reference === 'Immunization/known' && e.targetDisease.text === 'HepB')).toBe(true);
    expect(evals.some((e) => e.immunizationEvent.reference === 'Immunization/refused')).toBe(false);
    const info = resources<OperationOutcome>(r.body, 'information')[0]!;
    expect(info.issue.map((i) => i.diagnostics).join('\n')).toMatch(/Immunization\/mystery \(CVX 9999\)[\s\S]*Immunization\/refused not evaluated: status 'not-done'/);
  });
});

describe.each(backends())('Patient/[id]/$immds-forecast and the stored recommendation (%s)', (backend: Backend) => {
  let t: TestHub;
  let alex: string;
  let other: string;
  const token = async (patient: string, scope = 'launch/patient patient/*.rs') =>
    ({ authorization: `Bearer ${(await issueAccessToken(t.hub.db, { issuer: t.url, audience: t.fhirUrl }, { client_id: 'forecast-wallet', scope, kind: 'patient', patient, fhirUser: `Patient/${patient}` }, 600)).token}` });
  const dose = (id: string | undefined, patient: string, cvx: string, date: string, extra: Record<string, unknown> = {}) => ({
    resourceType: 'Immunization', ...(id ? { id } : {}), status: 'completed', patient: { reference: `Patient/${patient}` },
    vaccineCode: { coding: [{ system: CVX, code: cvx }] }, occurrenceDateTime: date, primarySource: true, ...extra,
  });

  beforeAll(async () => {
    t = await startTestHub(backend, { devOpenAccess: false, cdsiDataDir: SUPPORTING_DATA });
    const birth = new Date(Date.now() - 70 * 86_400_000).toISOString().slice(0, 10); // ten weeks old today
    alex = (await post(t, 'Patient', { resourceType: 'Patient', name: [{ family: 'Forecast' }], birthDate: birth, gender: 'female' })).body.id;
    other = (await post(t, 'Patient', { resourceType: 'Patient', name: [{ family: 'Other' }], birthDate: birth, gender: 'male' })).body.id;
  }, 120_000);
  afterAll(async () => t?.close());

  it('forecasts the stored doses the hub stands behind, as of today, for the patient and staff only', async () => {
    const birth = (await get(t, `Patient/${alex}`)).body.birthDate as string;
    const plus = (days: number) => new Date(Date.parse(birth) + days * 86_400_000).toISOString().slice(0, 10);
    const hepb = (await post(t, 'Immunization', dose(undefined, alex, '08', plus(1)))).body.id as string;
    const wrong = (await post(t, 'Immunization', dose(undefined, alex, '20', plus(2), { status: 'entered-in-error' }))).body.id as string;
    // A patient's own report (patient-reported, not verified): kept in the record, not counted.
    const own = await post(t, 'Immunization', dose(undefined, alex, '08', plus(35), { primarySource: false }), await token(alex, 'launch/patient patient/*.cruds'));
    expect(own.status).toBe(201);
    const mine = await get(t, `Patient/${alex}/$immds-forecast`, await token(alex));
    expect(mine.status).toBe(200);
    const evals = resources<ImmunizationEvaluation>(mine.body, 'evaluation');
    expect(evals.map((e) => e.immunizationEvent.reference)).toEqual([`Immunization/${hepb}`]);
    expect(evals[0]!.date).toBe(new Date().toISOString().slice(0, 10));
    const notes = resources<OperationOutcome>(mine.body, 'information')[0]!.issue.map((i) => i.diagnostics).join('\n');
    expect(notes).toContain(`Immunization/${wrong} not evaluated: status 'entered-in-error'`);
    expect(notes).toContain(`Immunization/${own.body.id as string} not evaluated: reported by the patient`);
    const hepbRec = resources<ImmunizationRecommendation>(mine.body, 'recommendation')[0]!.recommendation.find((r) => r.vaccineCode![0]!.text === 'HepB')!;
    expect(hepbRec.doseNumberPositiveInt).toBe(2);
    // An assessment date of the caller's choosing; POST with Parameters too.
    const past = await post(t, `Patient/${alex}/$immds-forecast`, { resourceType: 'Parameters', parameter: [{ name: 'assessmentDate', valueDate: plus(3) }] });
    expect(resources<ImmunizationEvaluation>(past.body, 'evaluation')[0]!.date).toBe(plus(3));
    expect((await get(t, `Patient/${alex}/$immds-forecast?assessmentDate=tomorrow`)).status).toBe(400);
    // Another patient's token: as if the record did not exist.
    expect((await get(t, `Patient/${alex}/$immds-forecast`, await token(other))).status).toBe(404);
    expect((await get(t, `Patient/${alex}/$immds-forecast`, {})).status).toBe(401);
    expect((await get(t, `Patient/no-such-person/$immds-forecast`)).status).toBe(404);
  });

  it('rewrites the stored ImmunizationRecommendation when a dose is recorded, corrected or deleted', async () => {
    const recId = forecastRecommendationId(other);
    expect((await get(t, `ImmunizationRecommendation/${recId}`)).status).toBe(404);
    const birth = (await get(t, `Patient/${other}`)).body.birthDate as string;
    const plus = (days: number) => new Date(Date.parse(birth) + days * 86_400_000).toISOString().slice(0, 10);
    const first = await post(t, 'Immunization', dose(undefined, other, '08', plus(1)));
    const stored = async () => (await get(t, `ImmunizationRecommendation/${recId}`)).body as ImmunizationRecommendation;
    const hepbOf = (r: ImmunizationRecommendation) => r.recommendation.find((x) => x.vaccineCode![0]!.text === 'HepB')!;
    let rec = await stored();
    expect(rec.patient.reference).toBe(`Patient/${other}`);
    expect(hepbOf(rec).doseNumberPositiveInt).toBe(2);
    // The stored answer is the operation's answer.
    const live = resources<ImmunizationRecommendation>((await get(t, `Patient/${other}/$immds-forecast`)).body, 'recommendation')[0]!;
    expect(rec.recommendation).toEqual(live.recommendation);
    // Corrected: the dose was given a month later (a different earliest date for dose 2).
    const before = loinc(hepbOf(rec), '30981-5');
    const fixed = await fetch(`${t.fhirUrl}/Immunization/${first.body.id as string}`, { method: 'PUT', headers: { 'content-type': FHIR_JSON, ...ADMIN }, body: JSON.stringify({ ...first.body, occurrenceDateTime: plus(31) }) });
    expect(fixed.status).toBe(200);
    rec = await stored();
    expect(loinc(hepbOf(rec), '30981-5')).not.toBe(before);
    // Deleted: back to dose 1.
    expect((await fetch(`${t.fhirUrl}/Immunization/${first.body.id as string}`, { method: 'DELETE', headers: ADMIN })).status).toBeLessThan(300);
    rec = await stored();
    expect(hepbOf(rec).doseNumberPositiveInt).toBe(1);
  });
});
