/**
 * `vaxhub iis query --patient <id>` as an operator runs it: a separate `node bin/vaxhub.js` process on the hub's
 * PostgreSQL schema, asking the SOAP registry simulator (CDC WSDL), which answers with the CDC IG's own RSP
 * examples. Saved history and forecast then show up in the running hub's FHIR search. PostgreSQL only: the
 * CLI and the hub must share one database.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Bundle, Immunization, ImmunizationRecommendation, Provenance } from 'fhir/r4';
import { backends, startTestHub, type Backend, type TestHub } from '../helpers/hub.js';
import type { IisMessageRecord } from '../../src/sync/iis/outbox-admin.js';
import { hl7Fixture } from './fixtures.js';
import { HubClient } from './hub-client.js';
import { samplePatient } from './sample-dose.js';
import { startSoapPeer, type SoapPeer } from './soap-peer.js';

const run = promisify(execFile);
const BIN = path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'bin', 'vaxhub.js');

/** The fixture RSP, acknowledging the QBP that was actually sent (MSA-2 = its MSH-10). */
const answering = (fixture: string) => (msg: { controlId: string }) => ({ raw: hl7Fixture(fixture).replace('MSA|AA|793543', `MSA|AA|${msg.controlId}`) });

const onPostgres = backends().filter((b) => b === 'postgres');
const describeIfPg = onPostgres.length ? describe.each(onPostgres) : describe.skip.each<Backend>(['postgres']);

describeIfPg('vaxhub iis query (CLI process) against the SOAP registry, results in the hub on %s', (backend) => {
  let th: TestHub;
  let hub: HubClient;
  let peer: SoapPeer;
  let dataDir: string;
  let patientId: string;

  async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const env = { ...process.env, DATABASE_URL: th.testDb.url!, DATA_DIR: dataDir, SEED_DEMO: 'false', LOG_LEVEL: 'silent', NODE_OPTIONS: '' };
    try {
      const r = await run(process.execPath, [BIN, ...args], { env, timeout: 60_000 });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const x = e as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
    }
  }

  beforeAll(async () => {
    th = await startTestHub(backend, { iisPollMs: 50 });
    hub = new HubClient(th.url);
    peer = await startSoapPeer();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vaxhub-cli-'));
    await hub.putConnection('ga-soap', { name: 'Georgia GRITS', transport: 'soap', endpoint: peer.url, credentials: peer.credentials, facilityId: 'NVC01', coverage: { states: ['GA'] } });
    const p = samplePatient();
    p.name = [{ family: 'Child', given: ['Robert', 'Quenton'] }];
    p.birthDate = '2005-05-12';
    p.gender = 'male';
    p.address = [{ line: ['10 East Main St'], city: 'Myfaircity', state: 'GA' }];
    patientId = (await hub.create(p)).id;
  }, 60_000);
  afterAll(async () => {
    await peer?.close();
    await th?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('Z34 -> RSP Z32: the registry history is printed, saved as historical Immunizations with a Provenance naming the registry', async () => {
    peer.brain.rule = answering('cdcig-rsp-z32-history.hl7');
    const r = await cli('iis', 'query', '--patient', patientId, '--profile', 'Z34', '--save');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.stdout) as { outcome: string; doses: { cvx: string; date: string }[] };
    expect(printed.outcome).toBe('history (Z32)');
    expect(printed.doses).toEqual([expect.objectContaining({ cvx: '03' })]);

    // The QBP went over SOAP to the CDC service, for this patient.
    const [qbp] = peer.brain.deliveries;
    expect(qbp!.type).toBe('QBP^Q11');
    expect(qbp!.text).toContain('QPD|Z34^Request Immunization History^CDCPHINVS|');
    expect(qbp!.text).toContain(`|${patientId}^^^`);

    const search = await hub.fhir<Bundle>('GET', `Immunization?patient=Patient/${patientId}`);
    expect(search.status).toBe(200);
    const imms = (search.body.entry ?? []).map((e) => e.resource as Immunization);
    expect(imms).toHaveLength(1);
    expect(imms[0]).toMatchObject({ primarySource: false, occurrenceDateTime: '2005-07-25', patient: { reference: `Patient/${patientId}` } });
    expect(imms[0]!.vaccineCode.coding![0]).toMatchObject({ code: '03' });
    const prov = await hub.fhir<Bundle>('GET', `Provenance?target=Immunization/${imms[0]!.id}`);
    const provenance = prov.body.entry?.map((e) => e.resource as Provenance) ?? [];
    expect(provenance).toHaveLength(1);
    expect(JSON.stringify(provenance[0]!.agent)).toContain('Georgia GRITS');

    // An imported dose is not echoed back to the registry, and the query itself is in the audit trail.
    const audit = await hub.messages({ patient: patientId });
    expect(audit.map((m: IisMessageRecord) => m.messageType)).toEqual(['QBP^Q11']);
    expect(audit[0]!.ackText).toContain('RSP^K11');
  });

  it('asking again does not store the same registry dose twice; the new Provenance points at the dose already held', async () => {
    peer.brain.rule = answering('cdcig-rsp-z32-history.hl7');
    const before = await hub.fhir<Bundle>('GET', `Immunization?patient=Patient/${patientId}`);
    const r = await cli('iis', 'query', '--patient', patientId, '--profile', 'Z34', '--save');
    expect(r.code).toBe(0);
    const after = await hub.fhir<Bundle>('GET', `Immunization?patient=Patient/${patientId}`);
    const ids = (after.body.entry ?? []).map((e) => e.resource!.id);
    expect(ids).toEqual((before.body.entry ?? []).map((e) => e.resource!.id));
    const prov = await hub.fhir<Bundle>('GET', `Provenance?target=Immunization/${ids[0]}`);
    expect(prov.body.entry ?? []).toHaveLength(2);
  });

  it('Z44 -> RSP Z42: evaluated history and the forecast as an ImmunizationRecommendation', async () => {
    peer.brain.rule = answering('cdcig-rsp-z42-complete.hl7');
    const r = await cli('iis', 'query', '--patient', patientId, '--save');
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.stdout) as { outcome: string; forecast: unknown[] };
    expect(printed.outcome).toBe('history (Z42)');
    expect(printed.forecast.length).toBeGreaterThan(0);
    const recs = await hub.fhir<Bundle>('GET', `ImmunizationRecommendation?patient=Patient/${patientId}`);
    const rec = recs.body.entry?.map((e) => e.resource as ImmunizationRecommendation) ?? [];
    expect(rec).toHaveLength(1);
    expect(rec[0]!.recommendation.length).toBe(printed.forecast.length);
    const imms = await hub.fhir<Bundle>('GET', `Immunization?patient=Patient/${patientId}&_count=100`);
    const codes = (imms.body.entry ?? []).map((e) => (e.resource as Immunization).vaccineCode.coding![0]!.code).sort();
    expect(codes).toEqual(['03', '31', '48']);
  });

  it('Z31 several candidates, Z33 not found: clear outcomes, nothing saved', async () => {
    peer.brain.rule = answering('cdcig-rsp-z31-candidates.hl7');
    const several = await cli('iis', 'query', '--patient', patientId, '--save');
    expect(several.code).toBe(0);
    expect(JSON.parse(several.stdout)).toMatchObject({ outcome: 'several people match; refine the demographics' });
    peer.brain.rule = answering('cdcig-rsp-z33-nf.hl7');
    const none = await cli('iis', 'query', '--patient', patientId, '--profile', 'Z34');
    expect(JSON.parse(none.stdout)).toEqual({ outcome: 'the registry has no record of this person' });
    const imms = await hub.fhir<Bundle>('GET', `Immunization?patient=Patient/${patientId}&_count=100`);
    expect(imms.body.entry).toHaveLength(3);
  });

  it('an unknown patient or a bad profile exits non-zero with a message, not a stack trace', async () => {
    const missing = await cli('iis', 'query', '--patient', 'no-such-patient');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^vaxhub: .*no-such-patient/m);
    const bad = await cli('iis', 'query', '--patient', patientId, '--profile', 'Z99');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--profile must be Z34 or Z44');
  });
});
