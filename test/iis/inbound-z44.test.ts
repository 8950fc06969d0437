/**
 * QBP^Q11 Z44 "Request Evaluated History and Forecast" answered RSP^K11 Z42 by the hub's CDSi engine (issue 23), over
 * MLLP, read with the independent @medplum/core HL7 parser: each dose followed by its evaluation OBX (vaccine type,
 * schedule, dose number, validity, reason), then the forecast order (RXA 998) with status, next dose number and the
 * four dates per vaccine group, the same as `Patient/[id]/$immds-forecast` answers. Without the engine, Z44 is AE
 * naming QPD-1.
 */
import { Hl7Message as MedplumMessage, type Hl7Segment } from '@medplum/core';
import type { ImmunizationRecommendation, Parameters } from 'fhir/r4';
import { ADMIN, startTestHub, type TestHub } from '../helpers/hub.js';
import { SUPPORTING_DATA as CDSI_SUPPORTING_DATA_DIR } from '../forecast/cdsi-cases.js';
import { MllpTransport } from '../../src/sync/iis/mllp-transport.js';
import { saveSender } from '../../src/sync/iis-inbound/senders.js';
import { inboundMllpListener } from '../../src/sync/iis-inbound/wiring.js';
import type { AnyResource } from '../../src/store/repository-types.js';

const CVX = 'http://hl7.org/fhir/sid/cvx';
const hl7Date = (d: string) => d.replace(/-/g, '');

async function startHub(cdsi: boolean): Promise<{ t: TestHub; send(text: string): Promise<MedplumMessage> }> {
  const t = await startTestHub('pglite', { iisInboundMllpPort: 0, host: '127.0.0.1', ...(cdsi ? { cdsiDataDir: CDSI_SUPPORTING_DATA_DIR } : {}) });
  const port = (await inboundMllpListener(t.hub))!.port;
  await saveSender(t.hub.db, { id: 'dabig', name: 'Dabig Clinic System', facilities: ['DCS'], mllpSources: ['127.0.0.1'] });
  return { t, send: async (text) => MedplumMessage.parse((await new MllpTransport({ transport: 'mllp', host: '127.0.0.1', port }).send(text)).replace(/\r?\n/g, '\r')) };
}

const z44 = (tag: string, name: string, dob: string, profile = 'Z44') =>
  [`MSH|^~\\&|MYEHR|DCS|||20240101000000-0500||QBP^Q11^QBP_Q11|q-${tag}|P|2.5.1|||ER|AL|||||${profile}^CDCPHINVS`, `QPD|${profile}^Request Evaluated History and Forecast^CDCPHINVS|${tag}|X-${tag}^^^other^MR|${name}||${dob}|F`, 'RCP|I|5^RD&records&HL70126'].join('\r');

/** The OBX of one sub-id after a segment index, by LOINC code. */
function obxGroups(segments: Hl7Segment[]): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const s of segments) {
    const sub = s.getField(4).toString();
    const m = out.get(sub) ?? new Map<string, string>();
    m.set(s.getComponent(3, 1), s.getField(5).toString());
    out.set(sub, m);
  }
  return out;
}

describe('QBP^Q11 Z44 answered with the CDSi evaluation and forecast (RSP^K11 Z42)', () => {
  let hub: Awaited<ReturnType<typeof startHub>>;
  let patientId: string;
  const birth = '2023-03-01';
  beforeAll(async () => {
    hub = await startHub(true);
    patientId = (await hub.t.hub.repo.create({ resourceType: 'Patient', name: [{ family: 'Forecast', given: ['Flora'] }], birthDate: birth, gender: 'female' } as AnyResource)).id!;
    const dose = (cvx: string, date: string) => ({ resourceType: 'Immunization', status: 'completed', primarySource: true, patient: { reference: `Patient/${patientId}` }, vaccineCode: { coding: [{ system: CVX, code: cvx }] }, occurrenceDateTime: date });
    for (const d of [dose('08', '2023-03-02'), dose('110', '2023-05-01'), dose('110', '2023-05-20')]) {
      const r = await fetch(`${hub.t.fhirUrl}/Immunization`, { method: 'POST', headers: { ...ADMIN, 'content-type': 'application/fhir+json' }, body: JSON.stringify(d) });
      expect(r.status).toBe(201);
    }
  }, 120_000);
  afterAll(async () => hub?.t.close());

  it('carries each dose with its evaluation and the forecast per vaccine group, as $immds-forecast', async () => {
    const msg = await hub.send(z44('f1', 'Forecast^Flora^^^^^L', hl7Date(birth)));
    expect(msg.getSegment('MSA')!.getField(1).toString()).toBe('AA');
    expect(msg.getSegment('MSH')!.getField(21).toString()).toBe('Z42^CDCPHINVS');
    expect(msg.getSegment('QAK')!.getField(3).toString()).toBe('Z44^Request Evaluated History and Forecast^CDCPHINVS');
    const segs = msg.segments;
    const rxaAt = segs.map((s, i) => (s.name === 'RXA' ? i : -1)).filter((i) => i >= 0);
    expect(rxaAt).toHaveLength(4); // three doses and the forecast order
    const blockOf = (n: number) => segs.slice(rxaAt[n]! + 1, n + 1 < rxaAt.length ? rxaAt[n + 1]! - 1 : segs.length).filter((s) => s.name === 'OBX');
    // Dose 1 (HepB birth dose): valid, dose 1 of HepB (45).
    const first = [...obxGroups(blockOf(0)).values()].find((g) => g.get('30956-7')?.startsWith('45^'))!;
    expect(first.get('59779-9')).toBe('VXC16^ACIP^CDCPHINVS');
    expect(first.get('30973-2')).toBe('1');
    expect(first.get('59781-5')).toBe('Y^Yes^HL70136');
    // Dose 3 (Pediarix 19 days after dose 2): too soon for DTaP, IPV and HepB; not valid, with CDSi's reason.
    const third = obxGroups(blockOf(2));
    const dtap = [...third.values()].find((g) => g.get('30956-7')?.startsWith('107^'))!;
    expect(dtap.get('59781-5')).toBe('N^No^HL70136');
    expect(dtap.get('30982-3')).toMatch(/interval/i);
    // The forecast order: RXA 998, one block per group, dates as the FHIR operation has them.
    expect(segs[rxaAt[3]!]!.getComponent(5, 1)).toBe('998');
    const forecast = obxGroups(blockOf(3));
    const fhir = await fetch(`${hub.t.fhirUrl}/Patient/${patientId}/$immds-forecast`, { headers: ADMIN }).then((r) => r.json() as Promise<Parameters>);
    const rec = fhir.parameter!.find((p) => p.name === 'recommendation')!.resource as ImmunizationRecommendation;
    for (const r of rec.recommendation) {
      const cvx = r.vaccineCode![0]!.coding![0]!.code!;
      const g = [...forecast.values()].find((x) => x.get('30956-7')?.startsWith(`${cvx}^`));
      const status = r.forecastStatus.coding!.find((c) => c.system?.endsWith('cdsi-forecast-status'))!.code;
      if (status === 'not-recommended') {
        expect(g).toBeUndefined();
        continue;
      }
      expect(g).toBeDefined();
      for (const [loinc, code] of [['30981-5', '30981-5'], ['30980-7', '30980-7'], ['59778-1', '59778-1'], ['59777-3', '59777-3']] as const) {
        const value = r.dateCriterion?.find((d) => d.code.coding![0]!.code === code)?.value;
        expect(g!.get(loinc) ?? '').toBe(value ? hl7Date(value) : '');
      }
      if (status === 'not-complete') expect(g!.get('30973-2')).toBe(String(r.doseNumberPositiveInt));
      expect(g!.get('59783-1')).toMatch(status === 'complete' ? /^LA13421-5/ : status === 'not-complete' ? /^LA1342[23]-[31]/ : /./);
    }
  });

  it('answers Z33 NF for nobody, as Z34 does', async () => {
    const nf = await hub.send(z44('f2', 'Nobody^Here^^^^^L', '20000101'));
    expect(nf.getSegment('QAK')!.getField(2).toString()).toBe('NF');
    expect(nf.getSegment('QAK')!.getField(3).toString()).toContain('Z44');
  });
});

describe('QBP^Q11 Z44 without the CDSi engine', () => {
  it('is AE naming QPD-1: the hub does not forecast by CDC rules without CDSI_DATA_DIR', async () => {
    const hub = await startHub(false);
    try {
      const ae = await hub.send(z44('n1', 'Forecast^Flora^^^^^L', '20230301'));
      expect(ae.getSegment('MSA')!.getField(1).toString()).toBe('AE');
      const err = ae.getSegment('ERR')!;
      expect(err.getField(2).toString()).toBe('QPD^1^1^1');
      expect(err.getField(8).toString()).toContain('CDSI_DATA_DIR');
      // And the hub says which rules it forecasts by.
      const cs = (await fetch(`${hub.t.fhirUrl}/metadata`).then((r) => r.json())) as { extension?: Array<{ url: string; valueString?: string }>; rest: Array<{ operation?: Array<{ name: string }> }> };
      expect(cs.extension?.find((e) => e.url.endsWith('/forecast-rules'))?.valueString).toMatch(/^product-catalogue: /);
      expect(cs.rest[0]!.operation?.some((o) => o.name === 'immds-forecast')).toBeFalsy();
    } finally {
      await hub.t.close();
    }
  }, 120_000);
});
