import { Hl7Message as MedplumMessage, type Hl7Segment as MedplumSegment } from '@medplum/core';
import { OperationOutcomeError } from '../../fhir/outcomes.js';
import { hl7Fixture } from '../../../test/iis/fixtures.js';
import { samplePatient, sampleImmunization, samplePractitioners, sampleLocation, sampleOrganization, sampleSender } from '../../../test/iis/sample-dose.js';
import { field, vxuProblems } from '../../../test/iis/vxu-rules.js';
import { parseHl7 } from './hl7-message.js';
import { buildQbp } from './query.js';
import { buildVxu, type VxuInput } from './vxu.js';
import { IIS_SHARING_EXTENSION } from './vxu-patient.js';
import { hl7ToFhirDate } from './hl7-datetime.js';

const NOW = new Date('2020-12-11T15:45:00Z');

function input(over: Partial<VxuInput> = {}): VxuInput {
  return {
    controlId: 'vaxhub-0001',
    now: NOW,
    action: 'A',
    patient: samplePatient(),
    immunization: sampleImmunization(),
    practitioners: samplePractitioners,
    location: sampleLocation,
    organization: sampleOrganization,
    sender: sampleSender,
    ...over,
  };
}

/** Parses with the independent @medplum/core parser. */
function medplum(text: string): MedplumMessage {
  return MedplumMessage.parse(text);
}
const seg = (m: MedplumMessage, name: string): MedplumSegment => {
  const s = m.getSegment(name);
  if (!s) throw new Error(`no ${name}`);
  return s;
};

describe('buildVxu: new administration (Z22), read back by @medplum/core field by field', () => {
  const text = buildVxu(input()).toString();
  const m = medplum(text);

  it('MSH follows the IG: type, unique control id, version, ack types, Z22 profile', () => {
    const msh = seg(m, 'MSH');
    expect(text.startsWith('MSH|^~\\&|')).toBe(true);
    expect(msh.getField(3).toString()).toBe('VAXHUB');
    expect(msh.getField(4).toString()).toBe('NVC');
    expect(msh.getField(5).toString()).toBe('MYIIS');
    expect(msh.getField(7).toString()).toBe('20201211104500-0500');
    expect(msh.getField(9).toString()).toBe('VXU^V04^VXU_V04');
    expect(msh.getField(10).toString()).toBe('vaxhub-0001');
    expect(msh.getField(11).toString()).toBe('P');
    expect(msh.getField(12).toString()).toBe('2.5.1');
    expect(msh.getField(15).toString()).toBe('ER');
    expect(msh.getField(16).toString()).toBe('AL');
    expect(msh.getField(21).toString()).toBe('Z22^CDCPHINVS');
    // MSH-22 XON: the organization's name in XON-1 and the IIS facility id in XON-10 (`CLINIC NAME^^^^^^^^^FAC-001`)
    expect(msh.getField(22).toString()).toBe('Newvax Clinic^^^^^^^^^NVC01');
    expect(field(msh, 18)).toBe(''); // all ASCII: nothing to declare
  });

  it('segment order matches the IG grammar (MSH PID PD1 NK1 ORC RXA RXR OBX...)', () => {
    expect(m.segments.map((s) => s.name)).toEqual(['MSH', 'PID', 'PD1', 'NK1', 'ORC', 'RXA', 'RXR', 'OBX', 'OBX', 'OBX', 'OBX']);
    // Same skeleton as the CDC open-tools COVID example (which has no PD1/NK1 and more optional OBX)
    const cdc = medplum(hl7Fixture('cdc-open-tools-vxu-z22-covid-adult.hl7')).segments.map((s) => s.name);
    expect(cdc.slice(0, 5)).toEqual(['MSH', 'PID', 'ORC', 'RXA', 'RXR']);
  });

  it('PID carries ids, name, mother maiden name, birth date, sex, race, address, phone, language, ethnicity', () => {
    const pid = seg(m, 'PID');
    expect(pid.getField(1).toString()).toBe('1');
    expect(pid.getField(3).toString()).toBe('pat-1^^^VAXHUB^MR~987633^^^MYIIS^SR');
    expect(pid.getField(5).toString()).toBe('Winchester^Dorothy^Amelia^^^^L');
    expect(pid.getField(6).toString()).toBe('Bruno^^^^^^M');
    expect(pid.getField(7).toString()).toBe('19840615');
    expect(pid.getField(8).toString()).toBe('F');
    expect(pid.getField(10).toString()).toBe('2106-3^White^CDCREC~2054-5^Black or African American^CDCREC');
    expect(pid.getField(11).toString()).toBe('5 Fifth Street^^Allentown^PA^18103^USA^L');
    expect(pid.getField(13).toString()).toBe('^PRN^CP^^^215^5551213');
    expect(pid.getField(15).toString()).toBe('eng^English^ISO639');
    expect(pid.getField(22).toString()).toBe('2135-2^Hispanic or Latino^CDCREC');
  });

  it('PD1 has registry status and its date; NK1 the mother', () => {
    const pd1 = seg(m, 'PD1');
    expect(pd1.getField(16).toString()).toBe('A');
    expect(pd1.getField(17).toString()).toBe('20201211');
    const nk1 = seg(m, 'NK1');
    expect(nk1.getField(2).toString()).toBe('Bruno^Ella^^^^^L');
    expect(nk1.getField(3).toString()).toBe('MTH^^HL70063');
  });

  it('ORC-3 is the dose stable id; ORC-12 ordering provider', () => {
    const orc = seg(m, 'ORC');
    expect(orc.getField(1).toString()).toBe('RE');
    expect(orc.getField(3).toString()).toBe('dose-1^VAXHUB');
    expect(orc.getComponent(12, 1)).toBe('2223334445');
    expect(orc.getComponent(12, 2)).toBe('Trevor');
    expect(orc.getComponent(12, 13)).toBe('NPI');
    expect(orc.getComponent(12, 21)).toBe('MD');
    expect(orc.getField(17).toString()).toBe('NVC^Newvax Clinic^HL70362');
  });

  it('RXA: dates, CVX+NDC, amount/units, 00 new record, provider, location, lot, expiry, MVX, CP, A', () => {
    const rxa = seg(m, 'RXA');
    expect(rxa.getField(1).toString()).toBe('0');
    expect(rxa.getField(2).toString()).toBe('1');
    expect(rxa.getField(3).toString()).toBe('20201211');
    expect(rxa.getField(5).toString()).toBe('208^COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose^CVX^59267-1000-01^Pfizer COVID-19^NDC');
    expect(rxa.getField(6).toString()).toBe('0.3');
    expect(rxa.getField(7).toString()).toBe('mL^mL^UCUM');
    expect(rxa.getField(9).toString()).toBe('00^New immunization record^NIP001');
    expect(rxa.getComponent(10, 1)).toBe('1112223334');
    expect(rxa.getComponent(10, 2)).toBe('Cody');
    expect(rxa.getComponent(10, 20)).toBe(''); // XCN-20 is a date range
    expect(rxa.getComponent(10, 21)).toBe('RN'); // the professional suffix
    expect(rxa.getComponent(11, 4)).toBe('NVC01');
    expect(rxa.getComponent(11, 9)).toBe('2 Second Street');
    expect(rxa.getField(15).toString()).toBe('8L7B3418');
    expect(rxa.getField(16).toString()).toBe('20211231');
    expect(rxa.getField(17).toString()).toBe('PFR^Pfizer^MVX');
    expect(rxa.getField(20).toString()).toBe('CP');
    expect(rxa.getField(21).toString()).toBe('A');
  });

  it('RXR: NCIt route with HL70162 alternate, HL70163 site', () => {
    const rxr = seg(m, 'RXR');
    expect(rxr.getField(1).toString()).toBe('C28161^Intramuscular^NCIT^IM^Intramuscular^HL70162');
    expect(rxr.getField(2).toString()).toBe('RD^Right Deltoid^HL70163');
  });

  it('OBX: eligibility 64994-7 with VXC40 method, funding 30963-3, VIS form A (69764-9 + 29769-7) sharing a sub-id', () => {
    const obx = m.getAllSegments('OBX');
    expect(obx.map((o) => o.getComponent(3, 1))).toEqual(['64994-7', '30963-3', '69764-9', '29769-7']);
    expect(obx.map((o) => o.getField(1).toString())).toEqual(['1', '2', '3', '4']);
    expect(obx.map((o) => o.getField(4).toString())).toEqual(['1', '2', '3', '3']);
    expect(obx[0]!.getField(2).toString()).toBe('CE');
    expect(obx[0]!.getField(5).toString()).toBe('V01^Not VFC eligible^HL70064');
    expect(obx[0]!.getField(17).toString()).toBe('VXC40^Eligibility captured at the immunization level^CDCPHINVS');
    expect(obx[1]!.getField(5).toString()).toBe('VXC1^Federal funds^CDCPHINVS');
    expect(obx[2]!.getField(5).toString()).toBe('253088698300002811180321^COVID-19 VIS^cdcgs1vis');
    expect(obx[3]!.getField(2).toString()).toBe('TS');
    expect(obx[3]!.getField(5).toString()).toBe('20201211');
    for (const o of obx) {
      expect(o.getField(11).toString()).toBe('F');
      expect(o.getField(3).getComponent(3)).toBe('LN');
    }
  });

  it('passes every onboarding rule (test/iis/vxu-rules.ts, read by @medplum/core)', () => {
    expect(vxuProblems(text)).toEqual([]);
  });

  it('our own parser reads the same values', () => {
    const mine = parseHl7(text);
    expect(mine.type).toBe('VXU^V04');
    expect(mine.profile).toBe('Z22');
    expect(mine.segment('RXA')!.get(5, 1)).toBe('208');
  });
});

describe('buildVxu variants', () => {
  it('VIS form B: vaccine type 30956-7 + publication 29768-9 + presented 29769-7', () => {
    const imm = sampleImmunization();
    imm.education = [{ documentType: '208', publicationDate: '2020-12-01', presentationDate: '2020-12-11' }];
    const m = medplum(buildVxu(input({ immunization: imm })).toString());
    const vis = m.getAllSegments('OBX').filter((o) => o.getField(4).toString() === '3');
    expect(vis.map((o) => o.getComponent(3, 1))).toEqual(['30956-7', '29768-9', '29769-7']);
    expect(vis[0]!.getField(5).toString()).toBe('208^^CVX');
    expect(vis[1]!.getField(5).toString()).toBe('20201201');
  });

  it('historical dose: RXA-9 01 (or the reportOrigin code), amount 999, no provider/RXR/OBX', () => {
    const imm = sampleImmunization();
    imm.primarySource = false;
    delete imm.doseQuantity;
    const m = medplum(buildVxu(input({ immunization: imm })).toString());
    const rxa = seg(m, 'RXA');
    expect(rxa.getField(6).toString()).toBe('999');
    expect(rxa.getField(9).toString()).toBe('01^Historical information - source unspecified^NIP001');
    expect(rxa.getField(10).toString()).toBe('');
    expect(m.getSegment('RXR')).toBeUndefined();
    expect(m.getAllSegments('OBX')).toHaveLength(0);
    imm.reportOrigin = { coding: [{ code: '06', display: 'Historical information - from birth certificate' }] };
    expect(seg(medplum(buildVxu(input({ immunization: imm })).toString()), 'RXA').getComponent(9, 1)).toBe('06');
  });

  it('update and delete keep ORC-3 and set RXA-21 U / D', () => {
    for (const action of ['U', 'D'] as const) {
      const m = medplum(buildVxu(input({ action, controlId: `c-${action}` })).toString());
      expect(seg(m, 'ORC').getField(3).toString()).toBe('dose-1^VAXHUB');
      expect(seg(m, 'RXA').getField(21).toString()).toBe(action);
    }
  });

  it('refused dose: RXA-18 NIP002 reason and RXA-20 RE', () => {
    const imm = sampleImmunization();
    imm.status = 'not-done';
    imm.statusReason = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'PATOBJ' }] };
    const text = buildVxu(input({ immunization: imm })).toString();
    const rxa = seg(medplum(text), 'RXA');
    expect(rxa.getField(18).toString()).toBe('03^Patient decision^NIP002');
    expect(rxa.getField(20).toString()).toBe('RE');
    expect(rxa.getField(6).toString()).toBe('999');
    expect(rxa.getField(9).toString()).toBe(''); // IZ-47: RXA-9 only for CP/PA
    expect(vxuProblems(text)).toEqual([]);
  });

  it('escapes delimiters in data so names with ^ & | survive', () => {
    const p = samplePatient();
    p.name = [{ family: 'Smith&Jones', given: ['A|B'] }];
    const pid = parseHl7(buildVxu(input({ patient: p })).toString()).segment('PID')!;
    expect(pid.get(5, 1)).toBe('Smith&Jones');
    expect(pid.get(5, 2)).toBe('A|B');
  });

  it('a dose without CVX or date is refused with an OperationOutcome naming the element', () => {
    const imm = sampleImmunization();
    imm.vaccineCode = { text: 'flu' };
    expect(() => buildVxu(input({ immunization: imm }))).toThrow(OperationOutcomeError);
    const imm2 = sampleImmunization();
    delete imm2.occurrenceDateTime;
    imm2.occurrenceString = 'last spring';
    try {
      buildVxu(input({ immunization: imm2 }));
      throw new Error('expected a throw');
    } catch (e) {
      expect((e as OperationOutcomeError).outcome.issue[0]!.expression).toEqual(['Immunization.occurrenceDateTime']);
    }
  });
});

describe('buildVxu with partial administration dates (issue 17: HL7 DTM has YYYY and YYYYMM precision)', () => {
  const rxa3 = (occurrenceDateTime: string): string => seg(medplum(buildVxu(input({ immunization: { ...sampleImmunization(), occurrenceDateTime } })).toString()), 'RXA').getField(3).toString();
  it('a year, a year-month, a date and a zoned dateTime keep their precision in RXA-3', () => {
    expect(rxa3('2019')).toBe('2019');
    expect(rxa3('2019-10')).toBe('201910');
    expect(rxa3('2019-10-05')).toBe('20191005');
    expect(rxa3('2021-04-01T23:30:00-05:00')).toBe('20210401');
  });
  it('registry history read back from HL7 keeps the same precision', () => {
    expect(hl7ToFhirDate('2019')).toBe('2019');
    expect(hl7ToFhirDate('201910')).toBe('2019-10');
    expect(hl7ToFhirDate('20191005')).toBe('2019-10-05');
    expect(hl7ToFhirDate('201910051430-0500')).toBe('2019-10-05T14:30:00-05:00');
  });
});

describe('buildVxu: what a registry onboarding team checks (issue 18), read by @medplum/core', () => {
  const build = (over: Partial<VxuInput>): { text: string; m: MedplumMessage } => {
    const text = buildVxu(input(over)).toString();
    return { text, m: medplum(text) };
  };

  it('MSH-18 UNICODE UTF-8 when a name is not ASCII, and the name arrives intact', () => {
    const p = samplePatient();
    p.name = [{ use: 'official', family: 'Núñez', given: ['José', 'Zoë 山田'] }];
    const { text, m } = build({ patient: p });
    expect(field(seg(m, 'MSH'), 18)).toBe('UNICODE UTF-8');
    expect(seg(m, 'PID').getComponent(5, 1)).toBe('Núñez');
    expect(seg(m, 'PID').getComponent(5, 3)).toBe('Zoë 山田');
    expect(vxuProblems(text)).toEqual([]);
    // the QBP carries the same demographics, so it declares the same
    expect(parseHl7(buildQbp({ controlId: 'q1', queryTag: 'q1', profile: 'Z44', patient: p, now: NOW, sender: sampleSender }).toString()).msh.get(18)).toBe('UNICODE UTF-8');
  });

  it('PID-11.6 and NK1-4.6 are ISO alpha-3: US and an empty country become USA', () => {
    const p = samplePatient();
    p.address = [{ line: ['1 Main St'], city: 'Madison', state: 'WI', postalCode: '53703', country: 'US' }, { line: ['2 Side St'], city: 'Madison', state: 'WI' }];
    p.contact![0]!.address = { line: ['9 Elm'], city: 'Toronto', country: 'CA' };
    const { text, m } = build({ patient: p });
    expect(seg(m, 'PID').getComponent(11, 6, undefined, 0)).toBe('USA');
    expect(seg(m, 'PID').getComponent(11, 6, undefined, 1)).toBe('USA');
    expect(seg(m, 'NK1').getComponent(4, 6)).toBe('CAN');
    expect(vxuProblems(text)).toEqual([]);
  });

  it('PD1-11/12/16 with their own effective dates (PD1-18/13/17) from the Patient registry-sharing extension', () => {
    const p = samplePatient();
    p.extension!.push({ url: IIS_SHARING_EXTENSION, extension: [
      { url: 'publicityCode', valueCoding: { system: 'http://terminology.hl7.org/CodeSystem/v2-0215', code: '01', display: 'No reminder/recall' } },
      { url: 'publicityCodeDate', valueDate: '2020-01-15' },
      { url: 'protection', valueBoolean: true },
      { url: 'protectionDate', valueDate: '2020-02-01' },
      { url: 'registryStatus', valueCode: 'A' },
      { url: 'registryStatusDate', valueDate: '2019-06-30' },
    ] });
    const { text, m } = build({ patient: p });
    const pd1 = seg(m, 'PD1');
    expect(field(pd1, 11)).toBe('01^No reminder/recall^HL70215');
    expect(field(pd1, 12)).toBe('Y');
    expect(field(pd1, 13)).toBe('20200201');
    expect(field(pd1, 16)).toBe('A');
    expect(field(pd1, 17)).toBe('20190630');
    expect(field(pd1, 18)).toBe('20200115');
    expect(vxuProblems(text)).toEqual([]);
    // without the extension: active from today, no publicity/protection claimed; a deceased person is P
    const plain = seg(build({}).m, 'PD1');
    expect([field(plain, 11), field(plain, 12), field(plain, 16), field(plain, 17)]).toEqual(['', '', 'A', '20201211']);
    const dead = samplePatient();
    dead.deceasedDateTime = '2020-11-02';
    const pd1Dead = seg(build({ patient: dead }).m, 'PD1');
    expect([field(pd1Dead, 16), field(pd1Dead, 17)]).toEqual(['P', '20201102']);
  });

  it('RXA-9 is empty for refused and not-administered records, 00/01 only for CP and PA', () => {
    const sub = sampleImmunization();
    sub.isSubpotent = true;
    const rxa = seg(build({ immunization: sub }).m, 'RXA');
    expect([field(rxa, 20), rxa.getComponent(9, 1)]).toEqual(['PA', '00']);
    const na = sampleImmunization();
    na.status = 'not-done';
    const { text, m } = build({ immunization: na });
    expect([field(seg(m, 'RXA'), 20), field(seg(m, 'RXA'), 9)]).toEqual(['NA', '']);
    expect(vxuProblems(text)).toEqual([]);
  });

  it('not given for immunity (statusReason IMMUNE): the 998 order group with OBX 59784-9 naming the disease', () => {
    const imm = sampleImmunization();
    imm.status = 'not-done';
    imm.vaccineCode = { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '21', display: 'varicella' }] };
    imm.statusReason = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'IMMUNE' }] };
    imm.protocolApplied = [{ doseNumberPositiveInt: 1, targetDisease: [{ coding: [{ system: 'http://snomed.info/sct', code: '38907003', display: 'Varicella (disorder)' }] }] }];
    const { text, m } = build({ immunization: imm });
    const rxa = seg(m, 'RXA');
    expect(field(rxa, 5)).toBe('998^No vaccine administered^CVX');
    expect([field(rxa, 6), field(rxa, 9), field(rxa, 10), field(rxa, 18), field(rxa, 20)]).toEqual(['999', '', '', '', 'NA']);
    const obx = m.getAllSegments('OBX');
    expect(obx).toHaveLength(1);
    expect(obx[0]!.getField(2).toString()).toBe('CE');
    expect(obx[0]!.getField(3).toString()).toBe('59784-9^Disease with presumed immunity^LN');
    expect(obx[0]!.getField(5).toString()).toBe('38907003^Varicella (disorder)^SCT');
    expect(field(seg(m, 'ORC'), 3)).toBe('dose-1^VAXHUB'); // the record keeps its id for U/D
    expect(vxuProblems(text)).toEqual([]);
    // no targetDisease: the CVX names it
    delete imm.protocolApplied;
    expect(medplum(buildVxu(input({ immunization: imm })).toString()).getAllSegments('OBX')[0]!.getComponent(5, 1)).toBe('38907003');
  });

  it('adverse reactions (Immunization.reaction with a contained Observation) become OBX 31044-1, one sub-id each', () => {
    const imm = sampleImmunization();
    imm.contained = [
      { resourceType: 'Observation', id: 'r1', status: 'final', code: { coding: [{ system: 'http://snomed.info/sct', code: '39579001', display: 'Anaphylaxis' }] } },
      { resourceType: 'Observation', id: 'r2', status: 'final', code: { text: 'reaction' }, valueCodeableConcept: { coding: [{ system: 'urn:oid:2.16.840.1.114222.4.5.274', code: 'VXC9', display: 'Persistent, inconsolable crying lasting > 3 hours within 48 hours of dose' }] } },
    ] as never;
    imm.reaction = [{ date: '2020-12-12', detail: { reference: '#r1' } }, { detail: { reference: '#r2' } }];
    const { text, m } = build({ immunization: imm });
    const reactions = m.getAllSegments('OBX').filter((o) => o.getComponent(3, 1) === '31044-1');
    expect(reactions.map((o) => field(o, 5))).toEqual(['39579001^Anaphylaxis^SCT', 'VXC9^Persistent, inconsolable crying lasting > 3 hours within 48 hours of dose^CDCPHINVS']);
    expect(reactions.map((o) => field(o, 3))).toEqual(['31044-1^Reaction^LN', '31044-1^Reaction^LN']);
    expect(reactions.map((o) => field(o, 14))).toEqual(['20201212', '20201211']);
    expect(new Set(m.getAllSegments('OBX').map((o) => field(o, 4))).size).toBe(5); // elig, funding, VIS, 2 reactions
    expect(vxuProblems(text)).toEqual([]);
  });

  it('the rule checker catches the mistakes it is there for', () => {
    const good = buildVxu(input()).toString();
    expect(good).toContain('NPI^^^^^^^^RN'); // RN in XCN-21
    const bad = good
      .replace('^^^^^^^^^NVC01', '^^^^^NVC01^XX') // facility id in XON-6
      .replace('NPI^^^^^^^^RN', 'NPI^^^^^^^RN') // suffix in XCN-20
      .replace('^USA^L', '^US^L')
      .replace('|CP|A', '|NA|A') // RXA-9 00 kept on a not-administered record
      .replace('Winchester', 'Wínchester'); // non-ASCII, MSH-18 left empty
    const problems = vxuProblems(bad).join('\n');
    for (const rule of [/MSH-18/, /MSH-22/, /RXA-10\.20/, /PID-11\.6/, /IZ-47/]) expect(problems).toMatch(rule);
  });

});
