/**
 * Issue 16, item 12: revocation holds across key rotation and withdrawal. SMART Health Cards revoke per key
 * (`kid`) and `rid`, and a rid is different under every key, so:
 *  - `cards revoke --patient X` (an end date: now) revokes the cards issued until now under every existing key;
 *    they stay revoked after `keys rotate`; a card issued later is valid (the corrected-record case);
 *  - `cards revoke --patient X --all-time` (no end date) revokes every card of X under every key, keys made later
 *    by rotation or withdrawal included, and the hub refuses to issue X a card (403 CARDS_REVOKED).
 * Through the running hub and its CLI, on PGlite and PostgreSQL.
 */
import { Command } from 'commander';
import request from 'supertest';
import type { Parameters } from 'fhir/r4';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { registerCredentialCommands } from '../../src/credentials/commands.js';
import type { CliContext } from '../../src/cli-context.js';
import { shcServices } from '../../src/credentials/shc/context.js';
import { decodeHealthCardJws } from '../../src/credentials/shc/jws.js';
import { issueHealthCards } from '../../src/credentials/shc/issue.js';
import { computeRid } from '../../src/credentials/shc/revocation.js';
import { patientRecord } from './http-fixtures.js';

describe.each(backends())('revocation across key rotation and withdrawal (%s)', (backend) => {
  let t: TestHub;
  const out: string[] = [];
  let cli: (...args: string[]) => Promise<unknown>;

  beforeAll(async () => {
    t = await startTestHub(backend, { devOpenAccess: false });
    for (const id of ['rr-corrected', 'rr-stopped', 'rr-other', ...Array.from({ length: 4 }, (_, i) => `rr-race-${i}`)]) {
      for (const r of patientRecord(id, 2)) await t.hub.repo.create(r, { id: r.id });
    }
    await t.hub.repo.create({ resourceType: 'Organization', name: 'Riverside Clinic' }, { id: 'clinic' });
    const program = new Command().exitOverride();
    const ctx: CliContext = { config: t.hub.config, db: t.hub.db, repo: t.hub.repo, close: async () => undefined };
    registerCredentialCommands(program, { withContext: (fn) => fn(ctx), print: (s) => out.push(s), setExitCode: () => undefined });
    cli = (...args) => program.parseAsync(['node', 'vaxhub', ...args]);
  }, 60_000);
  afterAll(() => t.close());

  const issue = (id: string) =>
    request(t.url)
      .post(`/fhir/Patient/${id}/$health-cards-issue`)
      .set(ADMIN)
      .set('content-type', 'application/fhir+json')
      .send({ resourceType: 'Parameters', parameter: [{ name: 'credentialType', valueUri: 'Immunization' }] });
  const cardOf = async (id: string) => (await issue(id).expect(200)).body.parameter.find((p: { name: string }) => p.name === 'verifiableCredential').valueString as string;
  const verify = async (jws: string) => (await request(t.url).post('/verify').type('text/plain').send(jws).expect(200)).body.results[0];
  const kidOf = (jws: string) => decodeHealthCardJws(jws).header.kid;
  const crl = async (kid: string) => (await request(t.url).get(`/.well-known/crl/${kid}.json`).expect(200)).body as { ctr: number; rids: string[] };
  const ridUnder = async (kid: string, patientId: string) => shcServices(t.hub.db, { iss: t.hub.config.baseUrl }).revocations.ridFor(kid, patientId);
  const newKeyInUse = () => {
    // The CLI shares the hub's key store (same database), so the rotation is seen at once.
    const cached = shcServices(t.hub.db, { iss: t.hub.config.baseUrl }).keys as unknown as { cached?: unknown };
    expect(cached.cached).toBeUndefined();
  };

  it('revoking the cards issued until now: they stay revoked after `keys rotate --only shc`; the CLI says later cards are valid', async () => {
    const old = await cardOf('rr-corrected');
    await cli('cards', 'revoke', '--patient', 'rr-corrected', '--reason', 'entered in error');
    expect(out.pop()).toMatch(/the cards issued until now; a card issued later .* is valid — use --all-time to stop all cards/);
    expect(await verify(old)).toMatchObject({ valid: false, codes: ['REVOKED'] });

    await cli('keys', 'rotate', '--only', 'shc');
    expect(out.pop()).toMatch(new RegExp(`retired \\(still published\\): ${kidOf(old)}`));
    newKeyInUse();
    expect(await verify(old)).toMatchObject({ valid: false, codes: ['REVOKED'], revocation: 'revoked' });
    // The decision written in the README: this revocation has an end date (now); a new card is valid.
    const corrected = await cardOf('rr-corrected');
    expect(kidOf(corrected)).not.toBe(kidOf(old));
    expect(await verify(corrected)).toMatchObject({ valid: true });
  });

  it('revoking for all time: no card is issued, and keys made later (rotate, withdraw) list the person from their first moment', async () => {
    const old = await cardOf('rr-stopped');
    const oldKid = kidOf(old);
    await cli('cards', 'revoke', '--patient', 'rr-stopped', '--all-time', '--reason', 'identity fraud');
    expect(out.pop()).toMatch(/every card, issued before or after now, under every key present and future; no new card will be issued/);
    expect(await verify(old)).toMatchObject({ valid: false, codes: ['REVOKED'] });

    // The hub refuses to sign: the operation, the download route and a card link all answer 403 CARDS_REVOKED.
    const refused = await issue('rr-stopped').expect(403);
    expect(refused.body.issue[0].details.coding[0].code).toBe('CARDS_REVOKED');
    expect(refused.body.issue[0].diagnostics).toMatch(/revoked with no end date/);
    const download = await request(t.url).get('/credentials/Patient/rr-stopped/card.smart-health-card').set(ADMIN).expect(403);
    expect(download.body.issue[0].details.coding[0].code).toBe('CARDS_REVOKED');
    await request(t.url).post('/credentials/Patient/rr-stopped/links').set(ADMIN).send({ label: 'card' }).expect(403);
    // Someone else is untouched.
    expect(await verify(await cardOf('rr-other'))).toMatchObject({ valid: true });

    for (const step of ['rotate', 'withdraw'] as const) {
      if (step === 'rotate') await cli('keys', 'rotate', '--only', 'shc');
      else await cli('keys', 'withdraw', kidOf(await cardOf('rr-other')));
      const jwks = (await request(t.url).get('/.well-known/jwks.json').expect(200)).body.keys as Array<{ kid: string; crlVersion?: number }>;
      const active = kidOf(await cardOf('rr-other'));
      expect(active).not.toBe(oldKid);
      // The new key is published with a CRL that already names the person under that key.
      expect(jwks.find((k) => k.kid === active)?.crlVersion).toBeGreaterThanOrEqual(1);
      expect((await crl(active)).rids).toContain(await ridUnder(active, 'rr-stopped'));
      await issue('rr-stopped').expect(403);
      expect(await verify(old)).toMatchObject({ valid: false });
    }

    // Even a card signed under the new key by a process that missed the refusal (its few-second cache) fails.
    const record = await t.hub.repo.read('Patient', 'rr-stopped');
    const imms = (await t.hub.repo.search('Immunization', { patient: 'Patient/rr-stopped' })).resources;
    const slipped = (await issueHealthCards({
      patient: record as never,
      immunizations: imms as never,
      params: { resourceType: 'Parameters', parameter: [{ name: 'credentialType', valueUri: 'Immunization' }] },
      issuer: { iss: t.hub.config.baseUrl, fhirBaseUrl: t.hub.config.fhirBaseUrl },
      keys: shcServices(t.hub.db, { iss: t.hub.config.baseUrl }).keys,
    })) as Parameters;
    const slippedJws = slipped.parameter![0].valueString!;
    expect(await verify(slippedJws)).toMatchObject({ valid: false, codes: ['REVOKED'], revocation: 'revoked' });
  });

  it('an all-time revocation racing a rotation is on the CRL of every key either way', async () => {
    const { revocations, keys } = shcServices(t.hub.db, { iss: t.hub.config.baseUrl });
    for (let i = 0; i < 4; i++) {
      await Promise.all([revocations.revokePatient(`rr-race-${i}`, { allTime: true }), keys.rotate()]);
    }
    const all = await keys.listKeys();
    for (const k of all) {
      const rids = (await revocations.crl(k.kid))?.rids ?? [];
      const secret = (await keys.ridSecret(k.kid))!;
      for (let i = 0; i < 4; i++) expect(rids).toContain(computeRid(secret, k.kid, `rr-race-${i}`));
    }
    for (let i = 0; i < 4; i++) await issue(`rr-race-${i}`).expect(403);
  });
});
