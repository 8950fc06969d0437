/**
 * The hub as an HL7 v2 endpoint EHRs report to (issue 18), over real sockets on PGlite and PostgreSQL: the CDC
 * guide's VXU examples sent over MLLP and over the CDC SOAP web service become Immunizations with nothing lost, a
 * resend creates nothing new, RXA-21 U/D change and delete, strangers and wrong credentials are refused, malformed
 * messages are answered AE/AR naming segment and field, received doses go on to the state registry, uncertain
 * patients wait in the review queue, and QBP^Q11 Z34 is answered Z32/Z31/Z33. Answers are read with the independent
 * @medplum/core HL7 parser.
 */
import { Hl7Message as MedplumMessage } from '@medplum/core';
import type { Immunization, Location, Patient, Practitioner, Provenance } from 'fhir/r4';
import { backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { MllpTransport } from '../../src/sync/iis/mllp-transport.js';
import { SoapTransport } from '../../src/sync/iis/soap-transport.js';
import { IisTransportError } from '../../src/sync/iis/transport.js';
import { findInboundMessages, saveSender } from '../../src/sync/iis-inbound/senders.js';
import { inboundMllpListener } from '../../src/sync/iis-inbound/wiring.js';
import { listReviews, resolveReview } from '../../src/sync/ehr/links.js';
import type { AnyResource } from '../../src/store/repository-types.js';
import { hl7Fixture } from './fixtures.js';
import { HubClient, waitFor } from './hub-client.js';
import { startMllpPeer, type MllpPeer } from './mllp-peer.js';

type Imm = Immunization & AnyResource;

interface Ack {
  code: string;
  controlId: string;
  errors: { location: string; code: string; severity: string; text: string }[];
  msg: MedplumMessage;
}

function readAnswer(text: string): Ack {
  const msg = MedplumMessage.parse(text.replace(/\r?\n/g, '\r'));
  const msa = msg.getSegment('MSA')!;
  return {
    code: msa.getField(1).toString(),
    controlId: msa.getField(2)?.toString() ?? '',
    errors: msg.getAllSegments('ERR').map((e) => ({ location: e.getField(2).toString(), code: e.getComponent(3, 1), severity: e.getField(4).toString(), text: e.getField(8).toString() })),
    msg,
  };
}

/** A fixture with another MSH-10 (and optionally other lines changed). */
function variant(text: string, controlId: string, edit: (lines: string[]) => string[] = (l) => l): string {
  const lines = text.split(/\r\n|\r|\n/).filter((l) => l.trim());
  lines[0] = lines[0]!.replace(/^((?:[^|]*\|){9})[^|]*/, `$1${controlId}`);
  return edit(lines).join('\r');
}

describe.each(backends())('HL7 v2 endpoint for EHRs on %s', (backend) => {
  let th: TestHub;
  let mllpPort: number;
  let registry: MllpPeer;
  const soapCreds = { username: 'dabig-ehr', password: 'correct horse battery', facilityId: 'DCS-01' };

  const mllp = (text: string): Promise<Ack> => new MllpTransport({ transport: 'mllp', host: '127.0.0.1', port: mllpPort }).send(text).then(readAnswer);
  const soap = (text: string, creds: Partial<typeof soapCreds> = soapCreds): Promise<Ack> =>
    new SoapTransport({ transport: 'soap', url: `${th.url}/iis/soap`, ...creds }).send(text).then(readAnswer);

  async function dosesOf(patientId: string): Promise<Imm[]> {
    return (await th.hub.repo.search<Imm>('Immunization', { patient: `Patient/${patientId}`, _count: '100' })).resources;
  }
  async function patientBy(identifier: string): Promise<Patient & AnyResource> {
    const found = (await th.hub.repo.search<Patient & AnyResource>('Patient', { identifier })).resources;
    expect(found).toHaveLength(1);
    return found[0]!;
  }
  async function provenanceOf(immId: string): Promise<Provenance[]> {
    const all = (await th.hub.repo.search('Provenance', { _count: '1000' })).resources as unknown as Provenance[];
    return all.filter((p) => p.target.some((t) => t.reference?.startsWith(`Immunization/${immId}/`)));
  }
  const contained = <T extends Practitioner | Location>(imm: Immunization, ref: string | undefined): T => imm.contained!.find((c) => `#${c.id}` === ref) as T;

  beforeAll(async () => {
    th = await startTestHub(backend, { iisPollMs: 20, iisInboundMllpPort: 0, host: '127.0.0.1' });
    mllpPort = (await inboundMllpListener(th.hub))!.port;
    registry = await startMllpPeer();
    // The state registry the hub reports to covers Wisconsin, where the CDC example patient lives.
    await new HubClient(th.url).putConnection('wi-mllp', { name: 'Wisconsin WIR', transport: 'mllp', endpoint: `127.0.0.1:${registry.port}`, coverage: { states: ['WI'] } });
    await saveSender(th.hub.db, { id: 'dabig', name: 'Dabig Clinic System', facilities: ['DCS'], mllpSources: ['127.0.0.1'] });
    await saveSender(th.hub.db, { id: 'newvax', name: 'Newvax Clinic EHR', facilities: ['X68'], soapUsername: soapCreds.username, soapPassword: soapCreds.password, soapFacilityId: soapCreds.facilityId });
  }, 60_000);
  afterAll(async () => {
    await th?.close();
    await registry?.close();
  });

  it('MLLP: the CDC guide VXU becomes three Immunizations with nothing lost, each with a Provenance naming the sender, reported on to the state registry', async () => {
    const text = hl7Fixture('cdcig-vxu-z22.hl7');
    const ack = await mllp(text);
    expect(ack).toMatchObject({ code: 'AA', controlId: '45646ug', errors: [] });
    expect(ack.msg.getSegment('MSH')!.getField(9).toString()).toBe('ACK^V04^ACK');
    const patient = await patientBy('urn:hl7v2:assigning-authority:dcs|432155');
    expect(patient).toMatchObject({ birthDate: '2011-04-11', gender: 'male', name: [{ family: 'Patient', given: ['Johnny', 'New'] }], address: [{ state: 'WI' }] });
    const doses = await dosesOf(patient.id!);
    expect(doses.map((d) => d.vaccineCode.coding![0]!.code).sort()).toEqual(['110', '48', '85']);
    const dtap = doses.find((d) => d.vaccineCode.coding![0]!.code === '110')!;
    expect(dtap).toMatchObject({
      status: 'completed',
      primarySource: true,
      occurrenceDateTime: '2012-01-13',
      lotNumber: 'xy3939',
      expirationDate: '2014-12-12',
      manufacturer: { identifier: { value: 'SKB' } },
      doseQuantity: { value: 0.5, unit: 'mL' },
      route: { coding: [{ code: 'C28161' }, { code: 'IM' }] },
      site: { coding: [{ code: 'RT' }] },
      programEligibility: [{ coding: [{ code: 'V02' }] }],
      education: [{ documentType: '253088698300026411121116', presentationDate: '2012-01-13' }],
      identifier: [{ system: 'urn:hl7v2:assigning-authority:DCS', value: '65930' }],
    });
    expect(dtap.performer!.map((p) => [p.function!.coding![0]!.code, contained<Practitioner>(dtap, p.actor.reference).name![0]!.family])).toEqual([['AP', 'Sticker'], ['OP', 'Pediatric']]);
    expect(contained<Location>(dtap, dtap.location!.reference).identifier![0]!.value).toBe('DCS_DC');
    // The historical hep B dose stays what the sender said it is: not primary source, origin 01.
    const hist = doses.find((d) => d.vaccineCode.coding![0]!.code === '85')!;
    expect(hist).toMatchObject({ primarySource: false, reportOrigin: { coding: [{ code: '01' }] } });
    const [prov] = await provenanceOf(dtap.id!);
    expect(prov!.agent[0]!.who).toEqual({ identifier: { system: 'urn:vaxhub:iis-sender', value: 'dabig' }, display: 'Dabig Clinic System' });
    expect(prov!.entity![0]!.what.identifier).toEqual({ system: 'urn:hl7v2:msh-10', value: '45646ug' });
    // Doses from an EHR are reported on like any other: the state registry gets a VXU for each.
    const sent = await waitFor('three VXUs at the state registry', async () => {
      const r = await th.hub.db.query<{ dose_id: string; state: string }>(`SELECT dose_id, state FROM iis_message WHERE patient_id = $1 AND message_type = 'VXU^V04'`, [patient.id]);
      return r.rows.length === 3 && r.rows.every((x) => x.state === 'accepted') && r.rows;
    });
    expect(sent.map((r) => r.dose_id).sort()).toEqual(doses.map((d) => d.id).sort());
    const atRegistry = registry.brain.deliveries.filter((d) => MedplumMessage.parse(d.text).getSegment('PID')?.getComponent(3, 1) === patient.id);
    expect(atRegistry.map((d) => MedplumMessage.parse(d.text).getSegment('RXA')!.getField(15).toString()).sort()).toEqual(['', '32k2a', 'xy3939']);
    // With the providers and the facility the EHR sent (contained in the dose): RXA-10, ORC-12, RXA-11.
    const dtapAtRegistry = MedplumMessage.parse(atRegistry.find((d) => d.text.includes('xy3939'))!.text);
    expect(dtapAtRegistry.getSegment('RXA')!.getField(10).toString()).toContain('Sticker');
    expect(dtapAtRegistry.getSegment('ORC')!.getField(12).toString()).toContain('Pediatric');
    expect(dtapAtRegistry.getSegment('RXA')!.getField(11).toString()).toContain('DCS_DC');
  });

  it('a resend (same MSH-10, or a new one with the same ORC-3s) creates nothing new; RXA-21 U changes the dose, D deletes it', async () => {
    const patient = await patientBy('urn:hl7v2:assigning-authority:dcs|432155');
    const before = await dosesOf(patient.id!);
    const provBefore = (await th.hub.repo.search('Provenance', { _count: '1000' })).resources.length;
    expect((await mllp(hl7Fixture('cdcig-vxu-z22.hl7'))).code).toBe('AA');
    expect((await mllp(variant(hl7Fixture('cdcig-vxu-z22.hl7'), 'resend-2'))).code).toBe('AA');
    const after = await dosesOf(patient.id!);
    expect(after.map((d) => `${d.id}@${d.meta?.versionId}`).sort()).toEqual(before.map((d) => `${d.id}@${d.meta?.versionId}`).sort());
    expect((await th.hub.repo.search('Provenance', { _count: '1000' })).resources.length).toBe(provBefore);

    // U: the DTaP dose's lot was mistyped.
    const update = variant(hl7Fixture('cdcig-vxu-z22.hl7'), 'upd-1', (lines) => {
      const rxa = lines.findIndex((l) => l.includes('|110^DTaP'));
      const orc = rxa - 1;
      return [lines[0]!, lines[1]!, lines[orc]!, lines[rxa]!.replace('xy3939', 'xy3940').replace(/\|A$/, '|U')];
    });
    expect((await mllp(update)).code).toBe('AA');
    const dtapId = before.find((d) => d.vaccineCode.coding![0]!.code === '110')!.id!;
    const updated = await th.hub.repo.read<Imm>('Immunization', dtapId);
    expect(updated).toMatchObject({ lotNumber: 'xy3940', meta: { versionId: '2' } });
    expect((await provenanceOf(dtapId)).map((p) => p.activity!.coding![0]!.code).sort()).toEqual(['CREATE', 'UPDATE']);

    // D: the Hib dose was recorded on the wrong patient.
    const del = variant(hl7Fixture('cdcig-vxu-z22.hl7'), 'del-1', (lines) => {
      const rxa = lines.findIndex((l) => l.includes('|48^HIB'));
      return [lines[0]!, lines[1]!, lines[rxa - 1]!, lines[rxa]!.replace(/\|A$/, '|D')];
    });
    expect((await mllp(del)).code).toBe('AA');
    const hibId = before.find((d) => d.vaccineCode.coding![0]!.code === '48')!.id!;
    expect(await th.hub.repo.readOptional('Immunization', hibId)).toBeUndefined();
    expect((await dosesOf(patient.id!)).map((d) => d.vaccineCode.coding![0]!.code).sort()).toEqual(['110', '85']);
    // The update and the delete go on to the state registry as U and D.
    await waitFor('U and D at the state registry', async () => {
      const r = await th.hub.db.query<{ action: string }>(`SELECT action FROM iis_message WHERE dose_id = ANY ($1) AND state = 'accepted' ORDER BY id`, [[dtapId, hibId]]);
      const actions = r.rows.map((x) => x.action).sort().join('');
      return actions === 'AADU' && actions;
    });
    // Deleting again: nothing to delete, said as a warning naming ORC-3.
    const again = await mllp(variant(del, 'del-2'));
    expect(again.code).toBe('AA');
    expect(again.errors).toEqual([expect.objectContaining({ location: 'ORC^1^3^1', code: '204', severity: 'W' })]);
  });

  it('SOAP submitSingleMessage: the CDC COVID-19 example with NDC, VIS, eligibility and funding; connectivityTest echoes', async () => {
    const ack = await soap(hl7Fixture('cdc-open-tools-vxu-z22-covid-adult.hl7'));
    expect(ack).toMatchObject({ code: 'AA', errors: [] });
    const patient = await patientBy('urn:hl7v2:assigning-authority:MYEHR|123456');
    const [dose] = await dosesOf(patient.id!);
    expect(dose).toMatchObject({
      vaccineCode: { coding: [{ code: '24' }, { system: 'http://hl7.org/fhir/sid/ndc', code: '00006-1101-99' }] },
      lotNumber: '8L7B3418',
      expirationDate: '2021-12-31',
      manufacturer: { identifier: { value: 'PMC' } },
      doseQuantity: { value: 0.5 },
      programEligibility: [{ coding: [{ code: 'V01' }] }],
      fundingSource: { coding: [{ code: 'VXC1' }] },
      education: [{ documentType: '253088698300002811180321', presentationDate: '2020-10-31' }],
      protocolApplied: [{ doseNumberPositiveInt: 1 }],
    });
    expect(dose!.performer!.map((p) => p.actor.display)).toEqual(['Allison Cody, RN', 'Lois Trevor, MD']);
    expect((await provenanceOf(dose!.id!))[0]!.agent[0]!.who!.display).toBe('Newvax Clinic EHR');
    expect((await soap(hl7Fixture('cdc-open-tools-vxu-z22-covid-adult.hl7'))).code).toBe('AA');
    expect(await dosesOf(patient.id!)).toHaveLength(1);
    const t = new SoapTransport({ transport: 'soap', url: `${th.url}/iis/soap` });
    expect(await t.connectivityTest('ping 18')).toBe('ping 18');
  });

  it('wrong credentials are a SecurityFault; an unknown MLLP sender or facility is AR naming MSH-4; nothing is stored', async () => {
    const text = variant(hl7Fixture('cdc-open-tools-vxu-z22-covid-adult.hl7'), 'sec-1');
    for (const creds of [{ ...soapCreds, password: 'wrong password!!' }, { ...soapCreds, facilityId: 'OTHER' }, { ...soapCreds, username: 'nobody' }, {}]) {
      const e = await soap(text, creds).then(() => undefined, (x: unknown) => x);
      expect(e).toBeInstanceOf(IisTransportError);
      expect((e as IisTransportError).failure).toBe('security-fault');
    }
    const stranger = await mllp(variant(hl7Fixture('cdcig-vxu-z22.hl7'), 'sec-2', (l) => [l[0]!.replace('|DCS|', '|ELSEWHERE|'), ...l.slice(1)]));
    expect(stranger.code).toBe('AR');
    expect(stranger.errors).toEqual([expect.objectContaining({ location: 'MSH^1^4^1', code: '204', severity: 'E' })]);
    // Kept for operators (`vaxhub iis senders messages --state refused`), with what the sender was told.
    const [refused] = await findInboundMessages(th.hub.db, { state: 'refused', limit: 1 });
    expect(refused).toMatchObject({ transport: 'mllp', controlId: 'sec-2', ackCode: 'AR', remoteAddress: '127.0.0.1' });
    expect(refused!.problems).toEqual([expect.stringMatching(/^E MSH\^1\^4\^1: No registered sender writes MSH-4 "ELSEWHERE"/)]);
  });

  it('malformed messages are answered AR/AE naming segment and field, never dropped', async () => {
    const noEncoding = await mllp('MSH|\rPID|1||x');
    expect(noEncoding.code).toBe('AR');
    const v231 = await mllp(variant(hl7Fixture('cdcig-vxu-z22.hl7'), 'v-1', (l) => [l[0]!.replace('|2.5.1|', '|2.3.1|'), ...l.slice(1)]));
    expect(v231).toMatchObject({ code: 'AR', controlId: 'v-1', errors: [expect.objectContaining({ location: 'MSH^1^12^1', code: '203' })] });
    const adt = await mllp(variant(hl7Fixture('cdcig-vxu-z22.hl7'), 'adt-1', (l) => [l[0]!.replace('VXU^V04^VXU_V04', 'ADT^A01^ADT_A01'), ...l.slice(1)]));
    expect(adt.errors).toEqual([expect.objectContaining({ location: 'MSH^1^9^1', code: '200' })]);
    const noPid = await mllp(variant(hl7Fixture('cdcig-vxu-z22.hl7'), 'nopid-1', (l) => l.filter((x) => !x.startsWith('PID'))));
    expect(noPid).toMatchObject({ code: 'AE', errors: [expect.objectContaining({ location: 'PID^1', code: '100', severity: 'E' })] });
    // One bad dose among good ones: the good ones are stored, the bad one named (RXA #2, field 3 and 5).
    const mixed = variant(hl7Fixture('cdcig-vxu-z22.hl7'), 'mixed-1', (lines) =>
      lines.map((l) => (l.includes('|110^DTaP') ? l.replace('|20120113||110^DTaP HIB IPV^CVX|', '|20121345||^^|') : l)),
    );
    const answer = await mllp(mixed);
    expect(answer.code).toBe('AE');
    expect(answer.errors.map((e) => [e.location, e.code, e.severity])).toEqual([
      ['RXA^2^3^1', '102', 'E'],
      ['RXA^2^5^1^1', '101', 'E'],
    ]);
    expect(answer.errors[0]!.text).toContain('20121345');
  });

  it('an uncertain patient match holds the doses (AA with a warning) in the review queue; resolving it stores them', async () => {
    const twin = await th.hub.repo.create<Patient & AnyResource>({ resourceType: 'Patient', name: [{ family: 'Kowalski', given: ['Anna'] }], birthDate: '2019-05-05', gender: 'female' });
    const text = [
      'MSH|^~\\&|MYEHR|DCS|MYIIS||20240105101500-0600||VXU^V04^VXU_V04|rev-1|P|2.5.1|||ER|AL|||||Z22^CDCPHINVS',
      'PID|1||K-77^^^dcs^MR||Kowalski^Anne^^^^^L||20190505|F',
      'ORC|RE||k-1^DCS',
      'RXA|0|1|20240105101000||03^MMR^CVX|0.5|mL^^UCUM||00^New admin^NIP001|^Sticker^Nurse|^^^DCS_DC||||mm1|20250101|MSD^Merck^MVX|||CP|A',
    ].join('\r');
    const ack = await mllp(text);
    expect(ack.code).toBe('AA');
    expect(ack.errors).toEqual([expect.objectContaining({ location: 'PID^1^3^1', severity: 'W' })]);
    expect(await dosesOf(twin.id!)).toHaveLength(0);
    const review = (await listReviews(th.hub.db, 'hl7-sender:dabig')).find((r) => r.hubPatientId === twin.id && r.status === 'open')!;
    expect(review.ehrPatientIds).toEqual(['urn:hl7v2:assigning-authority:dcs|K-77']);
    expect(await resolveReview(th.hub.db, review.id, { link: review.ehrPatientIds[0]! })).toMatchObject({ status: 'linked' });
    const [dose] = await dosesOf(twin.id!);
    // Stored on the confirmed patient, its time read in the sender's offset (MSH-7 -0600).
    expect(dose).toMatchObject({ occurrenceDateTime: '2024-01-05T10:10:00-06:00', lotNumber: 'mm1' });
    // From now on the link decides: the next message is stored at once.
    const next = text.replace('rev-1', 'rev-2').replace('k-1^DCS', 'k-2^DCS').replace('|mm1|', '|mm2|');
    expect((await mllp(next)).errors).toEqual([]);
    expect(await dosesOf(twin.id!)).toHaveLength(2);
  });

  it('QBP^Q11 Z34 is answered from the hub records: Z32 with the history, Z31 for several candidates, Z33 NF for none, AE without a query tag', async () => {
    const query = (tag: string, pid: string, name: string, dob: string): string =>
      [`MSH|^~\\&|MYEHR|DCS|||20240101000000-0500||QBP^Q11^QBP_Q11|q-${tag}|P|2.5.1|||ER|AL|||||Z34^CDCPHINVS`, `QPD|Z34^Request Immunization History^CDCPHINVS|${tag}|${pid}|${name}||${dob}|M`, 'RCP|I|5^RD&records&HL70126'].join('\r');
    const z32 = await mllp(query('t1', '432155^^^dcs^MR', 'Patient^Johnny^New^^^^L', '20110411'));
    expect(z32.code).toBe('AA');
    expect(z32.msg.getSegment('MSH')!.getField(21).toString()).toBe('Z32^CDCPHINVS');
    expect(z32.msg.getSegment('QAK')!.getField(1).toString()).toBe('t1');
    expect(z32.msg.getSegment('QAK')!.getField(2).toString()).toBe('OK');
    expect(z32.msg.getSegment('PID')!.getField(5).toString()).toContain('Patient^Johnny');
    const held = await dosesOf((await patientBy('urn:hl7v2:assigning-authority:dcs|432155')).id!);
    expect(held.length).toBeGreaterThanOrEqual(2);
    expect(z32.msg.getAllSegments('RXA').map((r) => r.getComponent(5, 1)).sort()).toEqual(held.map((d) => d.vaccineCode.coding![0]!.code).sort());
    expect(z32.msg.getAllSegments('RXA').map((r) => r.getField(15).toString()).filter(Boolean).sort()).toEqual(held.map((d) => d.lotNumber).filter(Boolean).sort());
    // The providers and facility the EHR sent come back out in RXA-10 and RXA-11.
    const dtapRxa = z32.msg.getAllSegments('RXA').find((r) => r.getComponent(5, 1) === '110')!;
    expect(dtapRxa.getComponent(10, 2)).toBe('Sticker');
    expect(dtapRxa.getComponent(11, 4)).toBe('DCS_DC');
    // Two hub patients with the same name and birth date: the candidates, not a guess.
    for (let i = 0; i < 2; i++) await th.hub.repo.create({ resourceType: 'Patient', name: [{ family: 'Twin', given: ['Sam'] }], birthDate: '2015-02-02', gender: 'male' } as AnyResource);
    const z31 = await mllp(query('t2', 'NEW-1^^^other^MR', 'Twin^Sam^^^^^L', '20150202'));
    expect(z31.msg.getSegment('MSH')!.getField(21).toString()).toBe('Z31^CDCPHINVS');
    expect(z31.msg.getAllSegments('PID')).toHaveLength(2);
    const nf = await mllp(query('t3', 'NONE-1^^^other^MR', 'Nobody^Here^^^^^L', '20000101'));
    expect(nf.msg.getSegment('MSH')!.getField(21).toString()).toBe('Z33^CDCPHINVS');
    expect(nf.msg.getSegment('QAK')!.getField(2).toString()).toBe('NF');
    const missingTag = await mllp(variant(hl7Fixture('cdcig-qbp-z34-missing-queryid.hl7'), 'q-missing', (l) => [l[0]!.replace('|SendingOrg|', '|DCS|'), ...l.slice(1)]));
    expect(missingTag).toMatchObject({ code: 'AE', errors: [expect.objectContaining({ location: 'QPD^1^2^1', code: '101' })] });
    expect(missingTag.msg.getSegment('QAK')!.getField(2).toString()).toBe('AE');
  });
});
