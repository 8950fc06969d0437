import fs from 'node:fs';
import path from 'node:path';
import { parseAck } from '../../src/sync/iis/ack.js';
import { MllpTransport } from '../../src/sync/iis/mllp-transport.js';
import { SoapTransport } from '../../src/sync/iis/soap-transport.js';
import { IisTransportError } from '../../src/sync/iis/transport.js';
import { buildVxu } from '../../src/sync/iis/vxu.js';
import { IIS_FIXTURES } from './fixtures.js';
import { startMllpPeer, type MllpPeer } from './mllp-peer.js';
import { startSoapPeer, type SoapPeer } from './soap-peer.js';
import { sampleImmunization, samplePatient, sampleSender } from './sample-dose.js';

const vxu = (controlId: string): string =>
  buildVxu({ controlId, now: new Date(), action: 'A', patient: samplePatient(), immunization: sampleImmunization(), sender: sampleSender }).toString();

const ERR_103 = 'ERR||RXA^1^5|103^table value not found^HL70357|E|5^table value not found^HL70533|||Vaccine code not recognized';

async function expectFailure(p: Promise<unknown>, failure: string, retryable: boolean): Promise<IisTransportError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(IisTransportError);
    expect((e as IisTransportError).failure).toBe(failure);
    expect((e as IisTransportError).retryable).toBe(retryable);
    return e as IisTransportError;
  }
  throw new Error('expected a transport failure');
}

describe('SOAP 1.2 CDC web service (client and registry both from cdc-iis-2011.wsdl)', () => {
  let peer: SoapPeer;
  let client: SoapTransport;
  beforeAll(async () => {
    peer = await startSoapPeer();
    client = new SoapTransport({ transport: 'soap', url: peer.url, ...peer.credentials, facilityId: 'NVC01', timeoutMs: 5000 });
  });
  afterAll(async () => {
    await client.close();
    await peer.close();
  });

  it('connectivityTest echoes, in a SOAP 1.2 envelope', async () => {
    expect(await client.connectivityTest('Hello IIS')).toBe('Hello IIS');
    expect(client.lastRequest()).toContain('http://www.w3.org/2003/05/soap-envelope');
    expect(client.lastRequest()).toContain('urn:cdc:iisb:2011');
  });

  it('the simulator answers the IZ Gateway example request (SOAP 1.2 connectivityTest) too', async () => {
    const body = fs.readFileSync(path.join(IIS_FIXTURES, 'wsdl', 'examples', 'izgw-hub-postman-2011-connectivityTest-request.xml'), 'utf8');
    const res = await fetch(peer.url, { method: 'POST', headers: { 'content-type': 'application/soap+xml; charset=utf-8; action="urn:cdc:iisb:2011:connectivityTest"' }, body });
    const xml = await res.text();
    expect(res.status).toBe(200);
    expect(xml).toContain('Wishing {{host}}:{{port}} an Audacious Hello');
  });

  it('submitSingleMessage: AA, AE with ERR, AR', async () => {
    peer.brain.rule = (_m, n) => (n === 0 ? { ack: 'AA' } : n === 1 ? { ack: 'AE', err: [ERR_103] } : { ack: 'AR', err: ['ERR||MSH^1^12|203^unsupported version id^HL70357|E'] });
    const a = parseAck(await client.send(vxu('s-1')));
    expect(a).toMatchObject({ status: 'accepted', acknowledgedControlId: 's-1' });
    const e = parseAck(await client.send(vxu('s-2')));
    expect(e).toMatchObject({ status: 'rejected', retryable: false });
    expect(e.errors[0]).toMatchObject({ hl7Code: '103', location: 'RXA-5', message: 'Vaccine code not recognized' });
    const r = parseAck(await client.send(vxu('s-3')));
    expect(r).toMatchObject({ ackCode: 'AR', retryable: false });
    expect(peer.brain.deliveries.slice(-3).map((d) => d.controlId)).toEqual(['s-1', 's-2', 's-3']);
    // the message crossed SOAP/XML intact (CRs and the & of MSH-2 escaped and restored)
    expect(peer.brain.deliveries.at(-1)!.text).toBe(vxu('s-3').replace(/\|\d{14}[+-]\d{4}\|/, peer.brain.deliveries.at(-1)!.text.match(/\|\d{14}[+-]\d{4}\|/)![0]));
  });

  it('faults: UnknownFault and SecurityFault are retryable, MessageTooLargeFault is not', async () => {
    peer.brain.rule = () => ({ fault: 'fault', reason: 'database unavailable' });
    const unknown = await expectFailure(client.send(vxu('f-1')), 'unknown-fault', true);
    expect(unknown.detail?.reason).toBe('database unavailable');
    peer.brain.rule = () => ({ fault: 'MessageTooLargeFault', reason: 'too big' });
    await expectFailure(client.send(vxu('f-2')), 'message-too-large', false);
    const bad = new SoapTransport({ transport: 'soap', url: peer.url, username: 'vaxhub', password: 'wrong', timeoutMs: 5000 });
    const sec = await expectFailure(bad.send(vxu('f-3')), 'security-fault', true);
    expect(sec.message).toContain('Invalid username/password');
  });

  it('a registry that is down is a retryable network failure', async () => {
    const down = new SoapTransport({ transport: 'soap', url: 'http://127.0.0.1:9/IISService2011', timeoutMs: 2000 });
    await expectFailure(down.send(vxu('d-1')), 'network', true);
  });
});

describe('MLLP (peer: node-hl7-server)', () => {
  let peer: MllpPeer;
  let client: MllpTransport;
  beforeAll(async () => {
    peer = await startMllpPeer();
    client = new MllpTransport({ transport: 'mllp', host: '127.0.0.1', port: peer.port, timeoutMs: 5000 });
  });
  afterAll(async () => {
    await peer.close();
  });

  it('AA, AE with ERR, AR over MLLP framing', async () => {
    peer.brain.rule = (_m, n) => (n === 0 ? { ack: 'AA' } : n === 1 ? { ack: 'AE', err: [ERR_103] } : { ack: 'AR', err: ['ERR||MSH^1^12|203^unsupported version id^HL70357|E'] });
    expect(parseAck(await client.send(vxu('m-1')))).toMatchObject({ status: 'accepted', acknowledgedControlId: 'm-1' });
    const e = parseAck(await client.send(vxu('m-2')));
    expect(e.errors[0]).toMatchObject({ hl7Code: '103', message: 'Vaccine code not recognized' });
    expect(parseAck(await client.send(vxu('m-3'))).ackCode).toBe('AR');
    expect(peer.brain.deliveries.map((d) => d.controlId)).toEqual(['m-1', 'm-2', 'm-3']);
    expect(peer.brain.deliveries[0]!.type).toBe('VXU^V04');
  });

  it('a peer that hangs up without answering, or is not listening, is a retryable network failure', async () => {
    peer.brain.rule = () => ({ hangUp: true });
    await expectFailure(client.send(vxu('m-4')), 'network', true);
    const down = new MllpTransport({ transport: 'mllp', host: '127.0.0.1', port: 9, timeoutMs: 2000 });
    await expectFailure(down.send(vxu('m-5')), 'network', true);
  });
});
