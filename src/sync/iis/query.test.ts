import { Hl7Message as MedplumMessage } from '@medplum/core';
import { hl7Fixture } from '../../../test/iis/fixtures.js';
import { samplePatient, sampleSender } from '../../../test/iis/sample-dose.js';
import { parseHl7 } from './hl7-message.js';
import { buildQbp } from './query.js';
import { readRsp, type RspContext, type RspOutcome } from './rsp.js';

const ctx: RspContext = { registry: { name: 'My State IIS', connectionId: 'conn-1' }, patient: { reference: 'Patient/pat-1' }, now: new Date('2015-01-31T12:00:00Z') };

function narrow<K extends RspOutcome['kind']>(o: RspOutcome, kind: K): Extract<RspOutcome, { kind: K }> {
  expect(o.kind).toBe(kind);
  return o as Extract<RspOutcome, { kind: K }>;
}

describe('buildQbp', () => {
  it.each(['Z34', 'Z44'] as const)('%s has the structure of the CDC IG example, read back by @medplum/core', (profile) => {
    const text = buildQbp({ controlId: 'q-1', queryTag: 'tag-1', profile, patient: samplePatient(), now: new Date('2024-01-01T00:00:00Z'), sender: sampleSender }).toString();
    const m = MedplumMessage.parse(text);
    expect(m.segments.map((s) => s.name)).toEqual(['MSH', 'QPD', 'RCP']);
    const example = parseHl7(hl7Fixture(profile === 'Z34' ? 'cdcig-qbp-z34.hl7' : 'smm-tester-qbp-z44.hl7'));
    expect(example.segments.map((s) => s.name)).toEqual(['MSH', 'QPD', 'RCP']);
    const msh = m.getSegment('MSH')!;
    expect(msh.getField(9).toString()).toBe('QBP^Q11^QBP_Q11');
    expect(msh.getField(21).toString()).toBe(`${profile}^CDCPHINVS`);
    const qpd = m.getSegment('QPD')!;
    expect(qpd.getField(1).toString()).toBe(example.segment('QPD')!.fields[1]!.map((r) => r.map((c) => c.join('&')).join('^')).join('~'));
    expect(qpd.getField(2).toString()).toBe('tag-1');
    expect(qpd.getField(3).toString()).toBe('pat-1^^^VAXHUB^MR~987633^^^MYIIS^SR');
    expect(qpd.getField(4).toString()).toBe('Winchester^Dorothy^Amelia^^^^L');
    expect(qpd.getField(5).toString()).toBe('Bruno^^^^^^M');
    expect(qpd.getField(6).toString()).toBe('19840615');
    expect(qpd.getField(7).toString()).toBe('F');
    expect(qpd.getField(8).toString()).toBe('5 Fifth Street^^Allentown^PA^18103^USA^L');
    expect(qpd.getField(9).toString()).toBe('^PRN^CP^^^215^5551213');
    const rcp = m.getSegment('RCP')!;
    expect(rcp.getField(1).toString()).toBe('I');
    expect(rcp.getField(2).toString()).toBe('10^RD&records&HL70126');
  });
});

describe('readRsp on the CDC IG answers', () => {
  it('Z32 complete history -> historical Immunization + Provenance naming the registry', () => {
    const h = narrow(readRsp(hl7Fixture('cdcig-rsp-z32-history.hl7'), ctx), 'history');
    expect(h.profile).toBe('Z32');
    expect(h.queryTag).toBe('1072');
    expect(h.registryPatientIds.map((i) => i.value)).toEqual(['123456', '987633']);
    expect(h.immunizations).toHaveLength(1);
    const imm = h.immunizations[0]!;
    expect(imm).toMatchObject({ status: 'completed', primarySource: false, occurrenceDateTime: '2005-07-25', patient: { reference: 'Patient/pat-1' }, doseQuantity: { value: 0.5, code: 'mL' } });
    expect(imm.vaccineCode.coding![0]).toMatchObject({ system: 'http://hl7.org/fhir/sid/cvx', code: '03', display: 'MMR' });
    expect(imm.identifier![0]!.value).toBe('142324567');
    expect(imm.route!.coding![0]!.code).toBe('SC');
    expect(h.provenance.target).toEqual([{ reference: `Immunization/${imm.id}` }]);
    expect(h.provenance.agent[0]!.who!.display).toBe('My State IIS');
    expect(h.provenance.entity![0]!.what.identifier!.value).toBe('7731029');
    expect(h.recommendation).toBeUndefined();
  });

  it('Z42 complete: evaluated doses (998 skipped, bad date skipped) and forecast -> ImmunizationRecommendation', () => {
    const h = narrow(readRsp(hl7Fixture('cdcig-rsp-z42-complete.hl7'), ctx), 'history');
    expect(h.profile).toBe('Z42');
    // Hep B 2009-04-15, HIB 2009-07-31; the third (20091051, an impossible date in the IG example) and the 998 are not doses.
    // RXA-3 has no offset: it is the registry's local time, which MSH-7 (200910311452-0500) says is UTC-5.
    expect(h.immunizations.map((i) => [i.vaccineCode.coding![0]!.code, i.occurrenceDateTime])).toEqual([
      ['31', '2009-04-15T13:25:11-05:00'],
      ['48', '2009-07-31T13:25:11-05:00'],
    ]);
    expect(h.warnings).toEqual([expect.objectContaining({ location: 'RXA-3', severity: 'W', message: expect.stringContaining('"20091051132511"') })]);
    expect(h.immunizations[0]!.protocolApplied).toEqual([{ doseNumberPositiveInt: 1, seriesDosesPositiveInt: 3 }]);
    expect(h.immunizations[1]).toMatchObject({ lotNumber: '33k2a', manufacturer: { identifier: { value: 'PMC' } } });
    const rec = h.recommendation!;
    expect(rec.resourceType).toBe('ImmunizationRecommendation');
    expect(rec.authority!.display).toBe('My State IIS');
    expect(rec.recommendation).toHaveLength(1);
    expect(rec.recommendation[0]!.vaccineCode![0]!.coding![0]!.code).toBe('31');
    expect(rec.recommendation[0]!.dateCriterion).toEqual([{ code: { coding: [{ system: 'http://loinc.org', code: '30980-7', display: 'Date vaccine due' }] }, value: '2009-10-15' }]);
    expect(rec.recommendation[0]!.series).toBe('ACIP');
  });

  it('Z42 multiple forecast: three series with due dates', () => {
    const h = narrow(readRsp(hl7Fixture('cdcig-rsp-z42-multiple-forecast.hl7'), ctx), 'history');
    expect(h.immunizations).toHaveLength(0);
    const recs = h.recommendation!.recommendation;
    expect(recs.map((r) => r.vaccineCode![0]!.coding![0]!.code)).toEqual(['03', '10', '107']);
    expect(recs.every((r) => r.dateCriterion![0]!.value === '2015-02-14')).toBe(true);
    expect(recs[0]!.forecastStatus.coding![0]!.code).toBe('due');
  });

  it('forecast groups coded with 30979-9 (vaccines due next) are read like 30956-7', () => {
    const text = hl7Fixture('cdcig-rsp-z42-multiple-forecast.hl7').replace(/30956-7\^vaccine type/g, (m, off: number, all: string) => (all.indexOf(m) === off ? m : '30979-9^Vaccines due next'));
    expect(text).toContain('30979-9^Vaccines due next^LN|2|10^IPV^CVX');
    const h = narrow(readRsp(text, ctx), 'history');
    expect(h.recommendation!.recommendation.map((r) => r.vaccineCode![0]!.coding![0]!.code)).toEqual(['03', '10', '107']);
    expect(h.warnings).toEqual([]);
  });

  it('a Z42 answer labelled MSH-21 Z32 (QAK-3 Z44) is still read as a forecast, and says so', () => {
    const text = hl7Fixture('cdcig-rsp-z42-multiple-forecast.hl7').replace('|Z42^CDCPHINVS|', '|Z32^CDCPHINVS|');
    expect(parseHl7(text).profile).toBe('Z32');
    const h = narrow(readRsp(text, ctx), 'history');
    expect(h.profile).toBe('Z42');
    expect(h.recommendation!.recommendation).toHaveLength(3);
    expect(h.warnings).toEqual([expect.objectContaining({ location: 'MSH-21', severity: 'I', message: expect.stringContaining('query was Z44') })]);
  });

  it('forecast groups the hub cannot read are warnings naming the group, not silence; immunity observations are no forecast', () => {
    const text = [
      hl7Fixture('cdcig-rsp-z42-multiple-forecast.hl7').trimEnd(),
      'OBX|31|CE|59779-9^Immunization Schedule used^LN|4|VXC16^ACIP^CDCPHINVS||||||F',
      'OBX|32|DT|30980-7^Date vaccination due^LN|4|20150301||||||F',
      'OBX|33|CE|99999-9^Local forecast code^99LOC|5|ZZ^Something^99LOC||||||F',
      'ORC|RE||9999^CDC',
      'RXA|0|1|20150131|20150131|998^no vaccine admin^CVX|999||||||||||||||NA',
      'OBX|1|CE|59784-9^Disease with presumed immunity^LN|1|38907003^Varicella^SCT||||||F',
    ].join('\r');
    const h = narrow(readRsp(text, ctx), 'history');
    expect(h.recommendation!.recommendation).toHaveLength(3);
    expect(h.warnings).toEqual([
      expect.objectContaining({ location: 'OBX-4', severity: 'W', message: expect.stringMatching(/^Forecast group 4 .*59779-9, 30980-7.*no vaccine in 30956-7 or 30979-9/) }),
      expect.objectContaining({ location: 'OBX-4', severity: 'W', message: expect.stringMatching(/^Forecast group 5 .*99999-9/) }),
    ]);
  });

  it('Z31: several candidates, none chosen', () => {
    const c = narrow(readRsp(hl7Fixture('cdcig-rsp-z31-candidates.hl7'), ctx), 'candidates');
    expect(c.candidates).toHaveLength(2);
    expect(c.candidates[0]).toMatchObject({ birthDate: '2005-05-12', gender: 'male', name: { family: 'Child', given: ['Robert'] } });
    expect(c.candidates[1]!.identifiers[0]!.value).toBe('123456');
  });

  it('Z33 NF / TM / AE map to clear outcomes', () => {
    expect(readRsp(hl7Fixture('cdcig-rsp-z33-nf.hl7'), ctx)).toEqual({ kind: 'not-found', queryTag: '1086' });
    expect(readRsp(hl7Fixture('cdcig-rsp-z33-tm.hl7'), ctx)).toEqual({ kind: 'too-many', queryTag: '1092' });
    const e = narrow(readRsp(hl7Fixture('cdcig-rsp-z33-ae-err.hl7'), ctx), 'error');
    expect(e.errors[0]).toMatchObject({ location: 'QPD-2', hl7Code: '101', hl7Text: 'required field missing' });
  });

  it('an AR acknowledgment to a query is an error outcome', () => {
    expect(readRsp(hl7Fixture('cdcig-ack-q11-ar-unsupported-type.hl7'), ctx).kind).toBe('error');
  });
});
