/**
 * The integration points: Immunization writes queue VXUs through the interceptor, `iis query` asks a registry
 * (MLLP peer answering the CDC Z42 example) and stores history + Provenance + forecast, `iis status`/`retry`.
 */
import { Command } from 'commander';
import type { Immunization, Patient } from 'fhir/r4';
import { FhirRepository } from '../../src/store/repository.js';
import type { Db } from '../../src/store/db.js';
import type { AnyResource } from '../../src/store/repository-types.js';
import { registerIisCommands } from '../../src/sync/iis/cli.js';
import { saveConnection, type IisConnection } from '../../src/sync/iis/connections.js';
import { iisWriteInterceptor } from '../../src/sync/iis/interceptor.js';
import { findMessages } from '../../src/sync/iis/outbox-admin.js';
import { queryRegistry } from '../../src/sync/iis/query-run.js';
import { hl7Fixture } from './fixtures.js';
import { startMllpPeer, type MllpPeer } from './mllp-peer.js';
import { samplePatient, samplePractitioners, sampleImmunization, sampleSender } from './sample-dose.js';
import { testDbs } from './test-db.js';

const pglite = testDbs()[0]!;

describe('IIS wiring: interceptor, query, CLI (PGlite, real repository)', () => {
  let db: Db;
  let repo: FhirRepository;
  let peer: MllpPeer;
  let conn: IisConnection;
  beforeAll(async () => {
    db = await pglite.open();
    repo = new FhirRepository(db);
    peer = await startMllpPeer();
    conn = { id: 'wiring-iis', name: 'My State IIS', transport: 'mllp', endpoint: `127.0.0.1:${peer.port}`, credentials: {}, sender: sampleSender, coverage: { states: ['PA'] }, maxAttempts: 5, enabled: true };
    await saveConnection(db, conn);
    await repo.create(samplePatient('w-pat') as Patient & AnyResource, { id: 'w-pat' });
    for (const p of samplePractitioners) await repo.create(p as AnyResource, { id: p.id });
  });
  afterAll(async () => {
    await peer.close();
    await db.close();
  });

  it('create / update / entered-in-error / delete of an Immunization queue A, U, D, D in the write transaction', async () => {
    const interceptor = iisWriteInterceptor(repo);
    const imm = sampleImmunization('w-dose', 'w-pat') as Immunization & AnyResource;
    await db.transaction(async (tx) => {
      const created = await repo.create(imm, { tx, id: 'w-dose' });
      await interceptor.afterWrite!(tx, { interaction: 'create', resource: created, principal: {} as never });
    });
    await db.transaction(async (tx) => {
      await interceptor.afterWrite!(tx, { interaction: 'update', resource: { ...imm, lotNumber: 'NEWLOT' }, principal: {} as never });
      await interceptor.afterWrite!(tx, { interaction: 'update', resource: { ...imm, status: 'entered-in-error' }, principal: {} as never });
      await interceptor.afterWrite!(tx, { interaction: 'delete', previous: imm, principal: {} as never });
    });
    const msgs = await findMessages(db, { doseId: 'w-dose' });
    expect(msgs.map((m) => m.action)).toEqual(['A', 'U', 'D', 'D']);
    expect(msgs[0]!.payload).toContain('ORC|RE||w-dose^VAXHUB');
    expect(msgs[0]!.payload).toContain('|1112223334^Cody^Allison^');
    expect(msgs[1]!.payload).toContain('|NEWLOT|');
    // a dose imported from the registry is not echoed back
    await db.transaction((tx) => interceptor.afterWrite!(tx, { interaction: 'create', resource: { ...imm, id: 'w-imported', reportOrigin: { coding: [{ code: '05' }] } }, principal: {} as never }));
    expect(await findMessages(db, { doseId: 'w-imported' })).toHaveLength(0);
  });

  it('queryRegistry Z44: QBP out, Z42 back, doses + Provenance + forecast stored, both messages kept', async () => {
    let qbp = '';
    peer.brain.rule = (m) => {
      qbp = m.toString();
      return { raw: hl7Fixture('cdcig-rsp-z42-complete.hl7').replace('MSA|AA|793543', `MSA|AA|${m.controlId}`) };
    };
    const outcome = await queryRegistry(db, repo, { patientId: 'w-pat', profile: 'Z44', save: true });
    expect(qbp).toMatch(/^MSH\|.*\|QBP\^Q11\^QBP_Q11\|/);
    expect(qbp).toContain('QPD|Z44^Request Evaluated History and Forecast^CDCPHINVS|');
    expect(outcome.kind).toBe('history');
    const imms = await repo.search('Immunization', { patient: 'Patient/w-pat' });
    const fromIis = (imms.resources as unknown as Immunization[]).filter((i) => i.primarySource === false);
    expect(fromIis.map((i) => i.vaccineCode.coding![0]!.code).sort()).toEqual(['31', '48']);
    const prov = await repo.search('Provenance', {});
    expect(prov.resources.some((p) => JSON.stringify(p).includes('My State IIS'))).toBe(true);
    const recs = await repo.search('ImmunizationRecommendation', {});
    expect(recs.resources).toHaveLength(1);
    const [audit] = await findMessages(db, { patientId: 'w-pat', state: 'accepted' });
    expect(audit).toMatchObject({ messageType: 'QBP^Q11' });
    expect(audit!.ackText).toContain('RSP^K11');
  });

  it('queryRegistry: a registry\'s Z42 labelled Z32, coded 30979-9, with a group the hub cannot read: forecast read, warning logged and kept with the query', async () => {
    peer.brain.rule = (m) => ({
      raw: [
        hl7Fixture('cdcig-rsp-z42-multiple-forecast.hl7').replace('MSA|AA|793543', `MSA|AA|${m.controlId}`).replace('|Z42^CDCPHINVS|', '|Z32^CDCPHINVS|').replace(/30956-7\^vaccine type/g, '30979-9^Vaccines due next').trimEnd(),
        'OBX|31|DT|30980-7^Date vaccination due^LN|4|20150301||||||F',
      ].join('\r'),
    });
    const logged: string[] = [];
    const outcome = await queryRegistry(db, repo, { patientId: 'w-pat', profile: 'Z44', log: { warn: (_d, msg) => logged.push(msg) } });
    if (outcome.kind !== 'history') throw new Error(`expected history, got ${outcome.kind}`);
    expect(outcome.profile).toBe('Z42');
    expect(outcome.recommendation!.recommendation.map((r) => r.vaccineCode![0]!.coding![0]!.code)).toEqual(['03', '10', '107']);
    expect(logged).toEqual([expect.stringMatching(/Forecast group 4 .*not read/)]);
    const [audit] = (await findMessages(db, { patientId: 'w-pat' })).filter((r) => r.messageType === 'QBP^Q11').slice(-1);
    expect(audit!.errors.map((e) => e.message)).toEqual([expect.stringContaining('read as Z42'), expect.stringMatching(/Forecast group 4/)]);
  });

  it('queryRegistry with a Z33 not-found answer gives a clear outcome', async () => {
    peer.brain.rule = (m) => ({ raw: hl7Fixture('cdcig-rsp-z33-nf.hl7').replace('MSA|AA|793543', `MSA|AA|${m.controlId}`) });
    expect((await queryRegistry(db, repo, { patientId: 'w-pat', profile: 'Z34' })).kind).toBe('not-found');
  });

  it('CLI: iis status, iis messages, iis retry on a non-dead message fails clearly', async () => {
    const out: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((s: string | Uint8Array) => (out.push(String(s)), true)) as typeof process.stdout.write;
    try {
      const program = new Command().exitOverride();
      registerIisCommands(program, async () => ({ db, repo, close: async () => undefined }));
      await program.parseAsync(['node', 'vaxhub', 'iis', 'status']);
      const health = JSON.parse(out.join(''));
      const mine = health.find((h: { connectionId: string }) => h.connectionId === 'wiring-iis');
      expect(mine).toMatchObject({ queueDepth: 4, name: 'My State IIS', accepted: 0, rejected: 0 });
      expect(mine.queries.sent).toBeGreaterThan(0); // the queries above are counted apart from dose reports
      out.length = 0;
      await program.parseAsync(['node', 'vaxhub', 'iis', 'messages', '--dose', 'w-dose']);
      expect(JSON.parse(out.join('')).map((m: { action: string }) => m.action)).toEqual(['A', 'U', 'D', 'D']);
      const [first] = await findMessages(db, { doseId: 'w-dose' });
      await expect(program.parseAsync(['node', 'vaxhub', 'iis', 'retry', String(first!.id)])).rejects.toThrow(/only dead or rejected messages/);
    } finally {
      process.stdout.write = write;
    }
  });
});
