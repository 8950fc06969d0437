import type { Immunization, Location, Practitioner } from 'fhir/r4';
import { hl7Fixture } from '../../../test/iis/fixtures.js';
import { hl7Zone } from './hl7-datetime.js';
import { parseHl7 } from './hl7-message.js';
import { immunizationFromGroup, orderGroups, type DoseMappingContext } from './rxa-immunization.js';
import { readRsp, type RspOutcome } from './rsp.js';

const sender: DoseMappingContext = { patient: { reference: 'Patient/p1' }, fillerAuthority: 'DCS', source: { kind: 'sender', name: 'Dabig Clinic System' } };

function contained<T extends Practitioner | Location>(imm: Immunization, ref: string | undefined): T {
  const r = imm.contained?.find((c) => `#${c.id}` === ref);
  if (!r) throw new Error(`no contained ${ref}`);
  return r as T;
}

describe('RXA/ORC/OBX -> Immunization (one mapping for history import and the inbound endpoint)', () => {
  it('the CDC IG VXU example: both doses with everything the guide puts in them', () => {
    const msg = parseHl7(hl7Fixture('cdcig-vxu-z22.hl7'));
    const doses = orderGroups(msg).map((g) => immunizationFromGroup(g, { ...sender, zone: hl7Zone(msg.msh.get(7)) }, msg)!);
    expect(doses).toHaveLength(3);
    // The historical hep B dose: RXA-9 01, amount 999 (unknown), no provider.
    const [hist, dtap, hib] = doses.map((d) => d.immunization);
    expect(doses[0]!.issues).toEqual([]);
    expect(hist).toMatchObject({ status: 'completed', primarySource: false, occurrenceDateTime: '2011-04-15', identifier: [{ system: 'urn:hl7v2:assigning-authority:DCS', value: '65929' }] });
    expect(hist!.reportOrigin!.coding![0]).toMatchObject({ code: '01', display: 'historical' });
    expect(hist!.doseQuantity).toBeUndefined();
    // The administered DTaP-Hib-IPV dose.
    expect(doses[1]!.issues).toEqual([]);
    expect(doses[1]!.action).toBe('A');
    expect(doses[1]!.fillerId).toEqual({ value: '65930', authority: 'DCS' });
    expect(dtap).toMatchObject({
      status: 'completed',
      primarySource: true,
      occurrenceDateTime: '2012-01-13',
      recorded: '2012-01-13',
      vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '110', display: 'DTaP HIB IPV' }] },
      doseQuantity: { value: 0.5, unit: 'mL', code: 'mL' },
      lotNumber: 'xy3939',
      expirationDate: '2014-12-12',
      manufacturer: { identifier: { system: 'http://hl7.org/fhir/sid/mvx', value: 'SKB' }, display: 'GlaxoSmithKline' },
      route: { coding: [{ system: 'http://ncimeta.nci.nih.gov', code: 'C28161', display: 'IM' }, { system: 'http://terminology.hl7.org/CodeSystem/v2-0162', code: 'IM' }] },
      site: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActSite', code: 'RT', display: 'Right Thigh' }] },
      programEligibility: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0064', code: 'V02', display: 'Medicaid' }] }],
      education: [{ documentType: '253088698300026411121116', presentationDate: '2012-01-13' }],
    });
    const ap = dtap!.performer!.find((p) => p.function?.coding?.[0]?.code === 'AP')!;
    const op = dtap!.performer!.find((p) => p.function?.coding?.[0]?.code === 'OP')!;
    expect(contained<Practitioner>(dtap!, ap.actor.reference)).toMatchObject({ name: [{ family: 'Sticker', given: ['Nurse'] }], qualification: [{ code: { text: 'RN' } }] });
    expect(contained<Practitioner>(dtap!, op.actor.reference)).toMatchObject({ name: [{ family: 'Pediatric', given: ['Mary'] }], qualification: [{ code: { text: 'MD' } }] });
    expect(ap.actor.display).toBe('Nurse Sticker, RN');
    expect(contained<Location>(dtap!, dtap!.location!.reference)).toMatchObject({ identifier: [{ value: 'DCS_DC' }], name: 'DCS_DC' });
    expect(hib).toMatchObject({ lotNumber: '32k2a', site: { coding: [{ code: 'LT' }] }, manufacturer: { identifier: { value: 'PMC' } } });
  });

  it('the CDC open-tools COVID-19 example: NDC, VIS, eligibility, funding, NPI-less providers, facility OID; unread observations kept as notes', () => {
    const msg = parseHl7(hl7Fixture('cdc-open-tools-vxu-z22-covid-adult.hl7'));
    const [dose] = orderGroups(msg).map((g) => immunizationFromGroup(g, { ...sender, fillerAuthority: 'X68', zone: hl7Zone(msg.msh.get(7)) }, msg)!);
    const imm = dose!.immunization;
    expect(dose!.issues).toEqual([]);
    expect(imm.vaccineCode.coding).toEqual([
      { system: 'http://hl7.org/fhir/sid/cvx', code: '24', display: 'COVID-19-Substitute' },
      { system: 'http://hl7.org/fhir/sid/ndc', code: '00006-1101-99', display: 'COVID-SUB' },
    ]);
    expect(imm.identifier![0]).toEqual({ system: 'urn:hl7v2:assigning-authority:NVC', value: '197030' });
    expect(imm).toMatchObject({ lotNumber: '8L7B3418', expirationDate: '2021-12-31', fundingSource: { coding: [{ code: 'VXC1', display: 'Federal funds' }] } });
    expect(imm.programEligibility![0]!.coding![0]).toMatchObject({ code: 'V01', system: 'http://terminology.hl7.org/CodeSystem/v2-0064' });
    expect(imm.education).toEqual([{ documentType: '253088698300002811180321', presentationDate: '2020-10-31' }]);
    expect(imm.protocolApplied).toEqual([{ doseNumberPositiveInt: 1 }]);
    const loc = contained<Location>(imm, imm.location!.reference);
    expect(loc.identifier).toEqual([{ system: 'urn:oid:2.16.840.1.113883.6.59', value: '123456' }]);
    expect(imm.note!.map((n) => n.text)).toEqual(['OBX 59783-1 Status in immunization series: N No CDCPHINVS', 'OBX 59785-6 Special Indication for vaccination: N No CDCPHINVS']);
    const ap = contained<Practitioner>(imm, imm.performer!.find((p) => p.function?.coding?.[0]?.code === 'AP')!.actor.reference);
    expect(ap).toMatchObject({ name: [{ family: 'Cody', given: ['Allison'] }], qualification: [{ code: { text: 'RN' } }] });
  });

  it('refusal, not-administered for immunity, partial dose, update/delete actions, and problems named by segment and field', () => {
    const msg = parseHl7([
      'MSH|^~\\&|EHR|CLINIC|||20240301103000-0700||VXU^V04^VXU_V04|m1|P|2.5.1',
      'PID|1||p-1^^^CLINIC^MR||Doe^Jane||20200101|F',
      'ORC|RE||r-1^CLINIC',
      'RXA|0|1|20240301||03^MMR^CVX|999||||||||||||00^Parental decision^NIP002||RE|U',
      'ORC|RE||n-1^CLINIC',
      'RXA|0|1|20240301||21^varicella^CVX|999||||||||||||||NA',
      'OBX|1|CE|59784-9^Disease with presumed immunity^LN|1|38907003^Varicella infection^SCT||||||F',
      'ORC|RE||p-1^CLINIC',
      'RXA|0|1|202403011015||08^HepB^CVX|0.25|mL^^UCUM|||||||||||||PA|D',
      'ORC|RE||bad-1^CLINIC',
      // RXA-3 October 45th, RXA-5 empty, RXA-6 not a number, RXA-16 not a date, RXA-20 and RXA-21 outside their tables
      ['RXA', '0', '1', '20241345', '', '^^', 'abc', ...Array(9).fill(''), 'xx', '', '', '', 'ZZ', 'Q'].join('|'),
    ].join('\r'));
    const zone = hl7Zone(msg.msh.get(7));
    expect(zone).toBe('-0700');
    const [re, na, pa, bad] = orderGroups(msg).map((g) => immunizationFromGroup(g, { ...sender, zone }, msg)!);
    expect(re!.action).toBe('U');
    expect(re!.immunization).toMatchObject({ status: 'not-done', primarySource: true, statusReason: { coding: [{ code: 'PATOBJ' }], text: 'Parental decision' } });
    expect(na!.immunization).toMatchObject({ status: 'not-done', statusReason: { coding: [{ code: 'IMMUNE' }], text: '38907003 Varicella infection SCT' } });
    expect(pa!.action).toBe('D');
    // A time without offset is the sender's local time (MSH-7 -0700), not UTC.
    expect(pa!.immunization).toMatchObject({ isSubpotent: true, occurrenceDateTime: '2024-03-01T10:15:00-07:00', doseQuantity: { value: 0.25 } });
    expect(bad!.issues.map((i) => [`${i.segment}-${i.field}`, i.sequence, i.code, i.severity])).toEqual([
      ['RXA-21', 4, '103', 'E'],
      ['RXA-3', 4, '102', 'E'],
      ['RXA-5', 4, '101', 'E'],
      ['RXA-20', 4, '103', 'E'],
      ['RXA-6', 4, '102', 'W'],
      ['RXA-16', 4, '102', 'W'],
    ]);
  });

  it('history import (RSP Z32) keeps providers, facility, VIS, eligibility, funding, and reads times in the MSH-7 offset', () => {
    const vxu = hl7Fixture('cdcig-vxu-z22.hl7').split(/\r\n|\r|\n/).filter((l) => /^(ORC|RXA|RXR|OBX)/.test(l));
    const rsp = [
      'MSH|^~\\&|MYIIS|MyStateIIS|MYEHR|Myclinic|200911300200-0600||RSP^K11^RSP_K11|7731030|P|2.5.1|||NE|NE|||||Z32^CDCPHINVS',
      'MSA|AA|793543',
      'QAK|1072|OK|Z34^Request Immunization History^CDCPHINVS',
      'PID|1||432155^^^dcs^MR||Patient^Johnny^New^^^^L||20110411|M',
      ...vxu,
      'ORC|RE||77^MyStateIIS',
      'RXA|0|1|201201131430||141^Influenza^CVX|0.25|mL^^UCUM||00^New admin^NIP001||^^^DCS_DC||||fl1|20120630|SKB^GSK^MVX|||CP|A',
      'OBX|1|CE|30963-3^Vaccine funding source^LN|1|VXC2^State funds^CDCPHINVS||||||F',
      'OBX|2|CE|30956-7^Vaccine type^LN|2|88^Influenza^CVX||||||F',
      'OBX|3|TS|29768-9^VIS published^LN|2|20110808||||||F',
      'OBX|4|TS|29769-7^VIS presented^LN|2|20120113||||||F',
    ].join('\r');
    const out = readRsp(rsp, { registry: { name: 'My State IIS' }, patient: { reference: 'Patient/p1' }, now: new Date('2012-02-01T00:00:00Z') }) as Extract<RspOutcome, { kind: 'history' }>;
    expect(out.kind).toBe('history');
    expect(out.immunizations).toHaveLength(4);
    const dtap = out.immunizations.find((i) => i.vaccineCode.coding![0]!.code === '110')!;
    // From a registry: never primary source, reportOrigin 05 (so the hub does not report it back).
    expect(dtap).toMatchObject({ primarySource: false, reportOrigin: { coding: [{ code: '05' }], text: 'My State IIS' } });
    expect(dtap.performer!.map((p) => [p.function!.coding![0]!.code, p.actor.display])).toEqual([['AP', 'Nurse Sticker, RN'], ['OP', 'Mary Pediatric, MD']]);
    expect(contained<Location>(dtap, dtap.location!.reference).identifier![0]!.value).toBe('DCS_DC');
    expect(dtap.education).toEqual([{ documentType: '253088698300026411121116', presentationDate: '2012-01-13' }]);
    expect(dtap.programEligibility![0]!.coding![0]!.code).toBe('V02');
    const flu = out.immunizations.find((i) => i.vaccineCode.coding![0]!.code === '141')!;
    expect(flu.occurrenceDateTime).toBe('2012-01-13T14:30:00-06:00');
    expect(flu.fundingSource!.coding![0]).toMatchObject({ code: 'VXC2', display: 'State funds' });
    expect(flu.education).toEqual([{ documentType: '88', publicationDate: '2011-08-08', presentationDate: '2012-01-13' }]);
    expect(out.provenance.target).toHaveLength(4);
  });
});
