import { Hl7Message as MedplumMessage, type Hl7Segment as MedplumSegment } from '@medplum/core';
import { OperationOutcomeError } from '../../fhir/outcomes.js';
import { hl7Fixture } from '../../../test/iis/fixtures.js';
import { samplePatient, sampleImmunization, samplePractitioners, sampleLocation, sampleOrganization, sampleSender } from '../../../test/iis/sample-dose.js';
import { parseHl7 } from './hl7-message.js';
import { buildVxu, type VxuInput } from './vxu.js';
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
    expect(msh.getComponent(22, 6)).toBe('NVC01');
    expect(msh.getComponent(22, 7)).toBe('XX');
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
    expect(rxa.getComponent(10, 20)).toBe('RN');
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
    const rxa = seg(medplum(buildVxu(input({ immunization: imm })).toString()), 'RXA');
    expect(rxa.getField(18).toString()).toBe('03^Patient decision^NIP002');
    expect(rxa.getField(20).toString()).toBe('RE');
    expect(rxa.getField(6).toString()).toBe('999');
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
