/**
 * Registry reporting through the running hub: connections configured with the admin API, doses written with
 * plain FHIR requests, VXUs received by real peers (node-hl7-server over MLLP, `soap` on the CDC WSDL) and read
 * back with the independent @medplum/core HL7 parser; answers, rejections, dead letters and retries seen
 * through /admin/iis.
 */
import { Hl7Message as MedplumMessage, type Hl7Segment } from '@medplum/core';
import type { Immunization, Location, OperationOutcome, Patient, Practitioner } from 'fhir/r4';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { IIS_SHARING_EXTENSION } from '../../src/sync/iis/vxu-patient.js';
import type { ConnectionHealth, IisMessageRecord } from '../../src/sync/iis/outbox-admin.js';
import type { ConnectivityResult } from '../../src/sync/iis/connectivity.js';
import { HubClient, waitFor } from './hub-client.js';
import { startMllpPeer, type MllpPeer } from './mllp-peer.js';
import type { Delivery } from './registry-brain.js';
import { sampleImmunization, sampleLocation, samplePatient, samplePractitioners } from './sample-dose.js';
import { startSoapPeer, type SoapPeer } from './soap-peer.js';

const seg = (m: MedplumMessage, name: string): Hl7Segment => {
  const s = m.getSegment(name);
  if (!s) throw new Error(`no ${name} segment`);
  return s;
};
const field = (m: MedplumMessage, name: string, n: number): string => seg(m, name).getField(n).toString();

/** A patient living in `state` (connections route by state), otherwise the CDC example person. */
function patientIn(state: string, family = 'Winchester'): Patient {
  const p = samplePatient();
  p.name = [{ use: 'official', family, given: ['Dorothy', 'Amelia'] }];
  p.address = [{ ...p.address![0]!, state }];
  return p;
}

describe.each(backends())('IIS reporting through the running hub on %s', (backend) => {
  let th: TestHub;
  let hub: HubClient;
  let mllp: MllpPeer;
  let soapPeer: SoapPeer;
  let nurse: Practitioner & { id: string };
  let clinic: Location & { id: string };

  /** The dose, as a FHIR client would send it: the CDC example COVID-19 dose given at our clinic. */
  function doseFor(patientId: string, over: Partial<Immunization> = {}): Immunization {
    const imm = sampleImmunization('ignored', patientId);
    imm.performer = [{ function: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0443', code: 'AP' }] }, actor: { reference: `Practitioner/${nurse.id}` } }];
    imm.location = { reference: `Location/${clinic.id}` };
    // In FHIR the VIS reference is a uri (the sample's plain name is for the HL7 unit tests).
    imm.education = [{ documentType: '253088698300002811180321', reference: 'https://www.cdc.gov/vaccines/hcp/current-vis/covid-19.html', presentationDate: '2020-12-11' }];
    return { ...imm, ...over };
  }

  const deliveriesOf = (peer: { brain: { deliveries: Delivery[] } }, patientId: string): Delivery[] =>
    peer.brain.deliveries.filter((d) => MedplumMessage.parse(d.text).getSegment('PID')?.getComponent(3, 1) === patientId);

  async function settled(query: Record<string, string>, n: number): Promise<IisMessageRecord[]> {
    return waitFor(`${n} resolved messages for ${JSON.stringify(query)}`, async () => {
      const rows = await hub.messages(query);
      return rows.length === n && rows.every((r) => r.state !== 'queued' && r.state !== 'sending') && rows;
    });
  }

  beforeAll(async () => {
    th = await startTestHub(backend, { iisPollMs: 20 });
    hub = new HubClient(th.url);
    mllp = await startMllpPeer();
    soapPeer = await startSoapPeer();
    nurse = await hub.create(samplePractitioners[0]!);
    clinic = await hub.create(sampleLocation);
    // PA patients go to the MLLP registry, WI patients to the SOAP one, NJ to a registry that gives up after one try.
    await hub.putConnection('pa-mllp', { name: 'Pennsylvania SIIS', transport: 'mllp', endpoint: `127.0.0.1:${mllp.port}`, coverage: { states: ['PA'] } });
    await hub.putConnection('wi-soap', { name: 'Wisconsin WIR', transport: 'soap', endpoint: soapPeer.url, credentials: soapPeer.credentials, facilityId: 'NVC01', coverage: { states: ['WI'] } });
    await hub.putConnection('nj-mllp', { name: 'New Jersey NJIIS', transport: 'mllp', endpoint: `127.0.0.1:${mllp.port}`, coverage: { states: ['NJ'] }, maxAttempts: 1 });
  }, 60_000);
  afterAll(async () => {
    await th?.close();
    await mllp?.close();
    await soapPeer?.close();
  });

  it('connections are operator-only, validated, and listed with health and without passwords', async () => {
    expect((await hub.admin('GET', 'connections', undefined, false)).status).toBe(401);
    expect((await hub.admin('PUT', 'connections/x', { name: 'x' }, false)).status).toBe(401);
    const bad = await hub.admin<OperationOutcome>('PUT', 'connections/bad', { name: 'Bad', transport: 'mllp', endpoint: 'no-port', sender: { sendingApplication: 'VAXHUB' }, maxAttempts: 0 });
    expect(bad.status).toBe(400);
    expect(bad.body.issue.flatMap((i) => i.expression ?? []).sort()).toEqual(['endpoint', 'maxAttempts', 'sender.assigningAuthority', 'sender.sendingFacility']);
    expect((await hub.admin('PUT', 'connections/bad', { name: 'Bad', transport: 'ftp', endpoint: 'x', sender: {} })).status).toBe(400);
    const list = await hub.admin<{ connections: { id: string; credentials: { password?: string } }[]; health: ConnectionHealth[] }>('GET', 'connections');
    expect(list.status).toBe(200);
    expect(list.body.connections.map((c) => c.id)).toEqual(['nj-mllp', 'pa-mllp', 'wi-soap']);
    expect(list.body.connections.find((c) => c.id === 'wi-soap')!.credentials.password).toBe('********');
    expect(JSON.stringify(list.body)).not.toContain(soapPeer.credentials.password);
    expect(list.body.health.map((h) => h.name).sort()).toEqual(['New Jersey NJIIS', 'Pennsylvania SIIS', 'Wisconsin WIR']);
    expect((await hub.admin('GET', 'connections/nope')).status).toBe(404);
  });

  it('POST Patient + Immunization -> the MLLP registry gets a VXU whose PID/ORC/RXA/RXR/OBX match the FHIR data; PUT -> U; DELETE -> D', async () => {
    const patient = await hub.create(patientIn('PA'));
    const created = await hub.create(doseFor(patient.id));
    const [a] = await settled({ dose: created.id }, 1);
    expect(a).toMatchObject({ state: 'accepted', ackCode: 'AA', action: 'A', messageType: 'VXU^V04', patientId: patient.id, connectionId: 'pa-mllp', attempts: 1 });

    const [sent] = deliveriesOf(mllp, patient.id);
    expect(sent!.controlId).toBe(a!.controlId);
    const m = MedplumMessage.parse(sent!.text);
    expect(m.header.getField(9).toString()).toBe('VXU^V04^VXU_V04');
    expect(m.header.getField(10).toString()).toBe(a!.controlId);
    expect(m.header.getField(12).toString()).toBe('2.5.1');
    expect(m.header.getField(21).toString()).toBe('Z22^CDCPHINVS');
    // PID from the stored Patient
    expect(seg(m, 'PID').getComponent(3, 1)).toBe(patient.id);
    expect(field(m, 'PID', 5)).toBe('Winchester^Dorothy^Amelia^^^^L');
    expect(field(m, 'PID', 7)).toBe('19840615');
    expect(field(m, 'PID', 8)).toBe('F');
    expect(field(m, 'PID', 11)).toBe('5 Fifth Street^^Allentown^PA^18103^USA^L');
    expect(m.getSegment('PD1')).toBeDefined();
    expect(field(m, 'NK1', 3)).toBe('MTH^^HL70063');
    // ORC-3 is the dose's stable id (the server-assigned Immunization id)
    expect(seg(m, 'ORC').getComponent(3, 1)).toBe(created.id);
    // RXA from the stored Immunization, the performer and the clinic Location
    const rxa = seg(m, 'RXA');
    expect(rxa.getField(3).toString()).toBe('20201211');
    expect(rxa.getField(5).toString()).toBe('208^COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose^CVX^59267-1000-01^Pfizer COVID-19^NDC');
    expect(rxa.getField(6).toString()).toBe('0.3');
    expect(rxa.getField(7).toString()).toBe('mL^mL^UCUM');
    expect(rxa.getComponent(9, 1)).toBe('00');
    expect(rxa.getComponent(10, 1)).toBe('1112223334');
    expect(rxa.getComponent(10, 2)).toBe('Cody');
    expect(rxa.getComponent(11, 4)).toBe('NVC01');
    expect(rxa.getField(15).toString()).toBe('8L7B3418');
    expect(rxa.getField(16).toString()).toBe('20211231');
    expect(rxa.getField(17).toString()).toBe('PFR^Pfizer^MVX');
    expect(rxa.getField(20).toString()).toBe('CP');
    expect(rxa.getField(21).toString()).toBe('A');
    expect(field(m, 'RXR', 1)).toContain('IM');
    expect(field(m, 'RXR', 2)).toBe('RD^Right Deltoid^HL70163');
    const obx = m.getAllSegments('OBX');
    expect(obx.map((o) => o.getComponent(3, 1))).toEqual(['64994-7', '30963-3', '69764-9', '29769-7']);
    expect(obx[0]!.getField(5).toString()).toBe('V01^Not VFC eligible^HL70064');
    expect(obx[2]!.getField(5).toString()).toBe('253088698300002811180321^^cdcgs1vis');
    expect(obx[3]!.getField(5).toString()).toBe('20201211');

    // Correction of the lot: RXA-21 U, same ORC-3, new MSH-10
    const updated = await hub.fhir<Immunization>('PUT', `Immunization/${created.id}`, { ...created, lotNumber: 'EW0150' });
    expect(updated.status).toBe(200);
    // Deletion: RXA-21 D
    expect((await hub.fhir('DELETE', `Immunization/${created.id}`)).status).toBeLessThan(300);
    const rows = await settled({ dose: created.id }, 3);
    expect(rows.map((r) => [r.action, r.state])).toEqual([['A', 'accepted'], ['U', 'accepted'], ['D', 'accepted']]);
    const sends = deliveriesOf(mllp, patient.id).map((d) => MedplumMessage.parse(d.text));
    expect(sends.map((s) => seg(s, 'RXA').getField(21).toString())).toEqual(['A', 'U', 'D']);
    expect(sends.map((s) => seg(s, 'ORC').getComponent(3, 1))).toEqual([created.id, created.id, created.id]);
    expect(seg(sends[1]!, 'RXA').getField(15).toString()).toBe('EW0150');
    expect(new Set(sends.map((s) => s.header.getField(10).toString())).size).toBe(3);
    expect(sends.map((s) => s.header.getField(10).toString())).toEqual(rows.map((r) => r.controlId));

    // The audit trail: searchable by patient and dose, every attempt with what came back
    expect((await hub.messages({ patient: patient.id })).map((r) => r.id)).toEqual(rows.map((r) => r.id));
    const events = await hub.admin<{ kind: string; detail: string | null }[]>('GET', `messages/${rows[0]!.id}/events`);
    expect(events.body.map((e) => e.kind)).toEqual(['sent', 'answer']);
    expect(events.body[1]!.detail).toContain(`MSA|AA|${rows[0]!.controlId}`);
  });

  it('doses from the registry (reportOrigin 05) and doses of patients no registry covers are not sent', async () => {
    const pa = await hub.create(patientIn('PA'));
    const imported = await hub.create(doseFor(pa.id, { primarySource: false, reportOrigin: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/immunization-origin', code: '05' }] } }));
    const ca = await hub.create(patientIn('CA'));
    const uncovered = await hub.create(doseFor(ca.id));
    const marker = await hub.create(doseFor(pa.id)); // a later covered dose: once it is through, the others had their chance
    await settled({ dose: marker.id }, 1);
    expect(await hub.messages({ dose: imported.id })).toEqual([]);
    expect(await hub.messages({ dose: uncovered.id })).toEqual([]);
  });

  it('SOAP registry: AE and AR answers are surfaced with their ERR reasons, warnings kept, health counts rejects by reason', async () => {
    soapPeer.brain.rule = (msg) => {
      const lot = msg.segment('RXA')!.get(15);
      if (lot === 'BADCVX') return { ack: 'AE', err: ['ERR||RXA^1^5|103^Table value not found^HL70357|E|5^Table value not found^HL70533|||Vaccination code 999 is not recognized'] };
      if (lot === 'OLDVER') return { ack: 'AR', err: ['ERR||MSH^1^12|203^Unsupported version id^HL70357|E||||Message version 2.3 is not supported'] };
      return { ack: 'AA', err: ['ERR||PID^1^13|102^Data type error^HL70357|W||||Phone number ignored'] };
    };
    const p = await hub.create(patientIn('WI'));
    const ae = await hub.create(doseFor(p.id, { lotNumber: 'BADCVX' }));
    const ar = await hub.create(doseFor(p.id, { lotNumber: 'OLDVER' }));
    const warn = await hub.create(doseFor(p.id, { lotNumber: 'FINE' }));
    const rows = await settled({ patient: p.id }, 3);
    expect(rows.map((r) => r.doseId)).toEqual([ae.id, ar.id, warn.id]);
    expect(rows.map((r) => [r.connectionId, r.state, r.ackCode, r.attempts])).toEqual([
      ['wi-soap', 'rejected', 'AE', 1],
      ['wi-soap', 'rejected', 'AR', 1],
      ['wi-soap', 'accepted-with-warnings', 'AA', 1],
    ]);
    expect(rows[0]!.errors[0]).toMatchObject({ location: 'RXA-5', hl7Code: '103', severity: 'E', message: 'Vaccination code 999 is not recognized' });
    expect(rows[0]!.lastError).toContain('Vaccination code 999 is not recognized');
    expect(rows[1]!.errors[0]).toMatchObject({ location: 'MSH-12', hl7Code: '203', message: 'Message version 2.3 is not supported' });
    expect(rows[2]!.errors[0]).toMatchObject({ severity: 'W', message: 'Phone number ignored' });
    expect(deliveriesOf(soapPeer, p.id)).toHaveLength(3); // rejections are never resent unchanged
    const rejected = await hub.messages({ patient: p.id, state: 'rejected' });
    expect(rejected.map((r) => r.doseId)).toEqual([ae.id, ar.id]);
    const { body } = await hub.admin<{ health: ConnectionHealth[] }>('GET', 'connections');
    const wi = body.health.find((h) => h.connectionId === 'wi-soap')!;
    expect(wi).toMatchObject({ rejected: 2, acceptedWithWarnings: 1, queueDepth: 0 });
    expect(wi.lastSuccessAt).not.toBeNull();
    expect(wi.rejectsByReason.map((r) => r.reason).sort()).toEqual(['103 Vaccination code 999 is not recognized (RXA-5)', '203 Message version 2.3 is not supported (MSH-12)']);
    expect((await hub.admin('GET', 'messages?state=lost')).status).toBe(400);
  });

  it('SOAP MessageTooLargeFault is a permanent rejection (sent once), surfaced with the fault reason', async () => {
    soapPeer.brain.rule = () => ({ fault: 'MessageTooLargeFault', reason: 'Message exceeds the 64 KB limit' });
    const p = await hub.create(patientIn('WI'));
    const dose = await hub.create(doseFor(p.id));
    const [row] = await settled({ dose: dose.id }, 1);
    expect(row).toMatchObject({ state: 'rejected', attempts: 1, ackCode: null });
    expect(row!.lastError).toContain('MessageTooLargeFault');
    expect(row!.lastError).toContain('Message exceeds the 64 KB limit');
    await new Promise((r) => setTimeout(r, 150)); // a few worker polls: still one delivery
    expect(deliveriesOf(soapPeer, p.id)).toHaveLength(1);
    soapPeer.brain.rule = () => ({ ack: 'AA' });
  });

  it('connectivityTest over the hub transport: echo, UnsupportedOperationFault, UnknownFault; MLLP port check', async () => {
    const ok = await hub.admin<ConnectivityResult>('POST', 'connections/wi-soap/test', { echoBack: 'Hello IIS' });
    expect(ok).toMatchObject({ status: 200, body: { ok: true, transport: 'soap', echo: 'Hello IIS' } });
    soapPeer.connectivity = 'UnsupportedOperationFault';
    const unsupported = await hub.admin<ConnectivityResult>('POST', 'connections/wi-soap/test', {});
    expect(unsupported.body).toMatchObject({ ok: false, failure: 'unsupported-operation' });
    expect((unsupported.body as { message: string }).message).toContain('connectivityTest is not supported');
    soapPeer.connectivity = 'UnknownFault';
    expect((await hub.admin<ConnectivityResult>('POST', 'connections/wi-soap/test', {})).body).toMatchObject({ ok: false, failure: 'unknown-fault' });
    soapPeer.connectivity = 'echo';
    expect((await hub.admin<ConnectivityResult>('POST', 'connections/pa-mllp/test', {})).body).toMatchObject({ ok: true, transport: 'mllp' });
    await hub.putConnection('down-mllp', { transport: 'mllp', endpoint: '127.0.0.1:9', enabled: false });
    expect((await hub.admin<ConnectivityResult>('POST', 'connections/down-mllp/test', {})).body).toMatchObject({ ok: false, failure: 'network' });
    expect((await hub.admin('POST', 'connections/nope/test', {})).status).toBe(404);
    expect((await hub.admin('POST', 'connections/wi-soap/test', {}, false)).status).toBe(401);
  });

  it('a dead message retried through the admin route is resent with the same MSH-10, then the patient queue behind it follows', async () => {
    let locked = true;
    mllp.brain.rule = (msg) => (locked && msg.segment('PID')!.get(5, 1) === 'Locked' ? { ack: 'AE', err: ['ERR||RXA|206^Application record locked^HL70357|E||||Record is being edited'] } : { ack: 'AA' });
    const p = await hub.create(patientIn('NJ', 'Locked'));
    const first = await hub.create(doseFor(p.id));
    const [dead] = await waitFor('the dead letter', async () => {
      const rows = await hub.messages({ patient: p.id, state: 'dead' });
      return rows.length === 1 && rows;
    });
    expect(dead).toMatchObject({ doseId: first.id, attempts: 1, ackCode: 'AE' });
    expect(dead!.lastError).toContain('206');
    const second = await hub.create(doseFor(p.id, { lotNumber: 'SECOND' }));
    await new Promise((r) => setTimeout(r, 150));
    expect((await hub.messages({ dose: second.id }))[0]!.state).toBe('queued'); // never overtakes the dead one

    expect((await hub.admin('POST', `messages/${dead!.id}/retry`, undefined, false)).status).toBe(401);
    expect((await hub.admin('POST', 'messages/abc/retry')).status).toBe(400);
    expect((await hub.admin('POST', 'messages/99999999/retry')).status).toBe(404);
    const [queuedBehind] = await hub.messages({ dose: second.id });
    expect((await hub.admin('POST', `messages/${queuedBehind!.id}/retry`)).status).toBe(409);

    // The block is surfaced (order is kept on purpose): the admin API, the connection's health and /metrics.
    const blocked = await hub.admin<{ patientId: string; deadMessageId: number; waiting: number; reason: string }[]>('GET', 'blocked?connection=nj-mllp');
    expect(blocked.body).toEqual([expect.objectContaining({ patientId: p.id, deadMessageId: dead!.id, waiting: 1, reason: expect.stringContaining('Record is being edited') })]);
    expect((await hub.admin('GET', 'blocked', undefined, false)).status).toBe(401);
    const nj = (await hub.admin<{ health: ConnectionHealth[] }>('GET', 'connections')).body.health.find((h) => h.connectionId === 'nj-mllp')!;
    expect(nj.blocked).toMatchObject({ patients: 1, messages: 1 });
    const metrics = await (await fetch(`${th.url}/metrics`, { headers: ADMIN })).text();
    expect(metrics).toMatch(/^vaxhub_iis_blocked_messages\{connection="nj-mllp"\} 1$/m);
    expect(metrics).toMatch(/^vaxhub_iis_blocked_patients\{connection="nj-mllp"\} 1$/m);

    locked = false;
    const retried = await hub.admin<IisMessageRecord>('POST', `messages/${dead!.id}/retry`);
    expect(retried).toMatchObject({ status: 200, body: { state: 'queued', controlId: dead!.controlId } });
    const rows = await settled({ patient: p.id }, 2);
    expect(rows.map((r) => r.state)).toEqual(['accepted', 'accepted']);
    const sends = deliveriesOf(mllp, p.id);
    expect(sends.map((d) => d.controlId)).toEqual([dead!.controlId, dead!.controlId, queuedBehind!.controlId]);
    expect(sends[1]!.text).toBe(sends[0]!.text); // the same bytes
    const events = await hub.admin<{ kind: string }[]>('GET', `messages/${dead!.id}/events`);
    expect(events.body.map((e) => e.kind)).toEqual(['sent', 'answer', 'operator-retry', 'sent', 'answer']);
    const after = await (await fetch(`${th.url}/metrics`, { headers: ADMIN })).text();
    expect(after).not.toMatch(/^vaxhub_iis_blocked_messages\{connection="nj-mllp"\}/m);
  });

  it('what onboarding checks, through FHIR writes: a non-ASCII name (MSH-18), the Patient\'s registry opt-out (PD1-11/12 with dates), the suffix in XCN-21, immunity as 998 + OBX 59784-9, a reaction as OBX 31044-1', async () => {
    const p = patientIn('PA', 'Núñez');
    p.name = [{ use: 'official', family: 'Núñez', given: ['José', 'Zoë 山田'] }];
    p.address = [{ ...p.address![0]!, country: 'US' }];
    p.extension = [...(p.extension ?? []), { url: IIS_SHARING_EXTENSION, extension: [
      { url: 'publicityCode', valueCoding: { system: 'http://terminology.hl7.org/CodeSystem/v2-0215', code: '01', display: 'No reminder/recall' } },
      { url: 'publicityCodeDate', valueDate: '2021-03-01' },
      { url: 'protection', valueBoolean: true },
      { url: 'protectionDate', valueDate: '2021-03-02' },
    ] }];
    const patient = await hub.create(p);
    const given = await hub.create(doseFor(patient.id, {
      contained: [{ resourceType: 'Observation', id: 'fever', status: 'final', code: { coding: [{ system: 'http://snomed.info/sct', code: '386661006', display: 'Fever' }] } }] as never,
      reaction: [{ date: '2020-12-12', detail: { reference: '#fever' } }],
    }));
    const immune = await hub.create(doseFor(patient.id, {
      status: 'not-done',
      vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '21', display: 'varicella' }] },
      statusReason: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'IMMUNE' }] },
      protocolApplied: [{ doseNumberPositiveInt: 1, targetDisease: [{ coding: [{ system: 'http://snomed.info/sct', code: '38907003', display: 'Varicella' }] }] }],
    }));
    await settled({ patient: patient.id }, 2);
    const [first, second] = deliveriesOf(mllp, patient.id).map((d) => MedplumMessage.parse(d.text));
    expect(first!.header.getField(18).toString()).toBe('UNICODE UTF-8');
    expect(seg(first!, 'PID').getComponent(5, 3)).toBe('Zoë 山田');
    expect(seg(first!, 'PID').getComponent(11, 6)).toBe('USA');
    expect([field(first!, 'PD1', 11), field(first!, 'PD1', 12), field(first!, 'PD1', 13), field(first!, 'PD1', 18)]).toEqual(['01^No reminder/recall^HL70215', 'Y', '20210302', '20210301']);
    expect(seg(first!, 'RXA').getComponent(10, 21)).toBe('RN');
    expect(seg(first!, 'ORC').getComponent(3, 1)).toBe(given.id);
    const reaction = first!.getAllSegments('OBX').find((o) => o.getComponent(3, 1) === '31044-1');
    expect(reaction?.getField(5).toString()).toBe('386661006^Fever^SCT');
    expect(seg(second!, 'ORC').getComponent(3, 1)).toBe(immune.id);
    expect(field(second!, 'RXA', 5)).toBe('998^No vaccine administered^CVX');
    expect([field(second!, 'RXA', 9), field(second!, 'RXA', 20)]).toEqual(['', 'NA']);
    expect(second!.getAllSegments('OBX').map((o) => `${o.getComponent(3, 1)} ${o.getField(5).toString()}`)).toEqual(['59784-9 38907003^Varicella^SCT']);
  });

  it('every VXU the registries received passes the onboarding rules (read by @medplum/core)', () => {
    expect(mllp.brain.deliveries.filter((d) => d.type === 'VXU^V04').length).toBeGreaterThan(5);
    expect([...mllp.brain.vxuProblems, ...soapPeer.brain.vxuProblems]).toEqual([]);
  });

  it('a dose that cannot be expressed as a VXU is refused with an OperationOutcome, not a 500', async () => {
    const p = await hub.create(patientIn('PA'));
    const noCvx = doseFor(p.id, { vaccineCode: { text: 'flu shot' } });
    const r = await hub.fhir<OperationOutcome>('POST', 'Immunization', noCvx);
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(r.body.resourceType).toBe('OperationOutcome');
  });
});
