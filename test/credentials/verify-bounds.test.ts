/**
 * Issue 16, items 13 and 14 (the credentials part): the unauthenticated `POST /verify` does bounded work (body
 * size, cards per request, a rate limit per client address, no huge images), and input that is not a card at all
 * (`a.b.c`, a bad file, a NUL byte in a path or a name) is a 4xx with a clear answer, never a 500. Through the
 * running hub over loopback, on PGlite and PostgreSQL.
 */
import { deflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import request from 'supertest';
import type { Parameters } from 'fhir/r4';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { DEFAULT_MAX_CARDS_PER_REQUEST, DEFAULT_VERIFY_RATE_LIMIT } from '../../src/credentials/shc/public-router.js';
import { patientRecord } from './http-fixtures.js';

/** A PNG whose header claims `width` x `height` and whose single IDAT is a tiny valid deflate stream. */
function pngClaiming(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    return Buffer.concat([len, Buffer.from(type, 'ascii'), data, Buffer.alloc(4)]); // CRC left 0: never reached
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grayscale
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(1024))), chunk('IEND', Buffer.alloc(0))]);
}

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe.each(backends())('POST /verify is bounded; malformed input is a 4xx (%s)', (backend) => {
  let t: TestHub;
  let card: string;

  beforeAll(async () => {
    t = await startTestHub(backend, { devOpenAccess: false });
    for (const r of patientRecord('vb-ana', 2)) await t.hub.repo.create(r, { id: r.id });
    await t.hub.repo.create({ resourceType: 'Organization', name: 'Riverside Clinic' }, { id: 'clinic' });
    const issued = await request(t.url)
      .post('/fhir/Patient/vb-ana/$health-cards-issue')
      .set(ADMIN)
      .set('content-type', 'application/fhir+json')
      .send({ resourceType: 'Parameters', parameter: [{ name: 'credentialType', valueUri: 'Immunization' }] })
      .expect(200);
    card = (issued.body as Parameters).parameter!.find((p) => p.name === 'verifiableCredential')!.valueString!;
  }, 60_000);
  afterAll(() => t.close());

  const expectOutcome = (res: request.Response, status: number, diagnostics: RegExp) => {
    expect(res.status).toBe(status);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].diagnostics).toMatch(diagnostics);
  };

  it('text that is not a card is a 400 OperationOutcome naming why (`a.b.c` was a 500)', async () => {
    const [h, p] = card.split('.');
    const cases: Array<[string, string | object, RegExp]> = [
      ['text/plain', 'a.b.c', /JWS_MALFORMED/],
      ['text/plain', 'not a card at all', /JWS_MALFORMED/],
      ['text/plain', `${h}.${p}.c`, /JWS_MALFORMED/], // a signature part of impossible length
      ['text/plain', `${b64({ alg: 'ES256', zip: 'DEF', kid: 'k' })}.${b64({ not: 'deflated' })}.AAAA`, /DEFLATE_INVALID/],
      ['text/plain', `${b64({ alg: 'HS256', zip: 'DEF', kid: 'k' })}.${p}.AAAA`, /JWS_HEADER_INVALID/],
      ['text/plain', 'shc:/123', /QR_INVALID/],
      ['text/plain', '{"verifiableCredential": [', /FILE_INVALID/],
      ['application/json', { verifiableCredential: [card, 'a.b.c'] }, /Card 2 is not a SMART Health Card: JWS_MALFORMED/],
      ['application/json', { verifiableCredential: 5 }, /Send a \.smart-health-card file/],
      ['application/json', { input: [] }, /Send a \.smart-health-card file/],
      ['application/json', { png: 'bm90IGEgcG5n' }, /QR_INVALID/],
    ];
    for (const [type, body, why] of cases) {
      const res = await request(t.url).post('/verify').set('content-type', type).send(body as string);
      expectOutcome(res, 400, why);
    }
    const multi = await request(t.url).post('/verify').send({ verifiableCredential: [card, 'a.b.c'] });
    expect(multi.body.issue[0].expression).toEqual(['verifiableCredential[1]']);
    // A readable card that fails a check is still a verification result, not an error.
    const [hh, pp, s] = card.split('.');
    const tampered = await request(t.url).post('/verify').type('text/plain').send(`${hh}.${pp}.${s!.slice(0, -4)}AAAA`).expect(200);
    expect(tampered.body.results[0]).toMatchObject({ valid: false, codes: ['SIGNATURE_INVALID'] });
  });

  it(`at most ${DEFAULT_MAX_CARDS_PER_REQUEST} cards per request; the limit itself verifies`, async () => {
    const ok = await request(t.url).post('/verify').send({ verifiableCredential: Array(DEFAULT_MAX_CARDS_PER_REQUEST).fill(card) }).expect(200);
    expect(ok.body.results).toHaveLength(DEFAULT_MAX_CARDS_PER_REQUEST);
    expect(ok.body.results.every((r: { valid: boolean }) => r.valid)).toBe(true);
    const over = await request(t.url).post('/verify').send({ verifiableCredential: Array(DEFAULT_MAX_CARDS_PER_REQUEST + 1).fill(card) });
    expectOutcome(over, 413, new RegExp(`At most ${DEFAULT_MAX_CARDS_PER_REQUEST} cards per request \\(this one holds ${DEFAULT_MAX_CARDS_PER_REQUEST + 1}\\)`));
  });

  it('the 5,000-card, 3.9 MB body of the report is refused at once and /healthz stays quick', async () => {
    const body = JSON.stringify({ verifiableCredential: Array(5000).fill(card) });
    expect(body.length).toBeGreaterThan(2_000_000);
    const started = Date.now();
    const [big, health] = await Promise.all([
      request(t.url).post('/verify').set('content-type', 'application/json').send(body),
      new Promise((r) => setTimeout(r, 20)).then(async () => {
        const at = Date.now();
        await request(t.url).get('/healthz').expect(200);
        return Date.now() - at;
      }),
    ]);
    expectOutcome(big, 413, /too large/i);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(health).toBeLessThan(1_000);
  });

  it('an image claiming 100,000 x 100,000 pixels is refused from its header, without decoding it', async () => {
    const started = Date.now();
    const res = await request(t.url).post('/verify').set('content-type', 'image/png').send(pngClaiming(100_000, 100_000));
    expectOutcome(res, 400, /100000 x 100000 pixels; at most 2 megapixels/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('a noisy image under the size cap is read off the event loop: refused within its time budget, /healthz stays quick', async () => {
    // Noise is the scanner's worst case: a 2000 x 2000 one took jsQR 41 s on the main thread.
    const noise = new PNG({ width: 1000, height: 1000, colorType: 0, inputColorType: 0, inputHasAlpha: false });
    noise.data = Buffer.alloc(1000 * 1000);
    for (let i = 0; i < noise.data.length; i++) noise.data[i] = (i * 7919) % 251;
    const png = PNG.sync.write(noise, { colorType: 0, inputColorType: 0, inputHasAlpha: false });
    const started = Date.now();
    const healthTimes: number[] = [];
    const scan = request(t.url).post('/verify').set('content-type', 'image/png').send(png);
    const probe = (async () => {
      await new Promise((r) => setTimeout(r, 300));
      for (let i = 0; i < 5; i++) {
        const at = Date.now();
        await request(t.url).get('/healthz').expect(200);
        healthTimes.push(Date.now() - at);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const [res] = await Promise.all([scan, probe]);
    expectOutcome(res, 400, /QR_INVALID/);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(Math.max(...healthTimes)).toBeLessThan(500);
  });

  it('NUL and other malformed ids in credential and link paths are 4xx, never 500', async () => {
    // A NUL may be refused by the hub's hostile-input guard (400) or by these routes (404): never a 500.
    const refused = (res: request.Response) => {
      expect([400, 404]).toContain(res.status);
      expect(JSON.stringify(res.body)).not.toMatch(/Internal server error/);
    };
    for (const bad of ['%00', 'a%00b', '%E2%98%83', 'a%20b']) {
      refused(await request(t.url).get(`/credentials/Patient/${bad}/card.smart-health-card`).set(ADMIN));
      refused(await request(t.url).get(`/credentials/Patient/${bad}/card-qr.png`).set(ADMIN));
      refused(await request(t.url).get(`/credentials/Patient/${bad}/links`).set(ADMIN));
      refused(await request(t.url).post(`/credentials/Patient/${bad}/links`).set(ADMIN).send({}));
      refused(await request(t.url).delete(`/credentials/Patient/vb-ana/links/${bad}`).set(ADMIN));
      refused(await request(t.url).get(`/credentials/Patient/vb-ana/links/${bad}/qr.png`).set(ADMIN));
      refused(await request(t.url).post(`/shl/${bad}`).send({ recipient: 'R' }));
      refused(await request(t.url).get(`/shl/${bad}?recipient=R`));
      refused(await request(t.url).get(`/shl/file/${bad}`));
    }
    // Ids that are not FHIR ids (no NUL: these reach the routes) are a 404 OperationOutcome that names no one.
    const snowman = await request(t.url).get('/credentials/Patient/%E2%98%83/card.smart-health-card').set(ADMIN);
    expectOutcome(snowman, 404, /^That Patient not found$/);
    // A link that exists, opened with control characters in the recipient name that is logged.
    const link = await request(t.url).post('/credentials/Patient/vb-ana/links').set(ADMIN).send({ label: 'x' }).expect(201);
    const manifest = new URL(JSON.parse(Buffer.from(link.body.shlink.split('shlink:/')[1], 'base64url').toString()).url).pathname;
    refused(await request(t.url).post(manifest).send({ recipient: 'School\u0000nurse' }));
    const bell = await request(t.url).post(manifest).send({ recipient: 'School\u0007nurse' }).expect(400);
    expect(bell.body).toEqual({ error: 'invalid_request', error_description: 'recipient must not hold control characters' });
    await request(t.url).post(manifest).send({ recipient: 'School nurse' }).expect(200);
  });

  // Last: it spends this address's budget for the rest of the minute.
  it(`a client address gets ${DEFAULT_VERIFY_RATE_LIMIT.limit} requests a minute, then 429 with Retry-After`, async () => {
    let limited: request.Response | undefined;
    // Twice the limit: the fixed window may turn over once during the loop.
    for (let i = 0; i < 2 * DEFAULT_VERIFY_RATE_LIMIT.limit + 10 && !limited; i++) {
      const res = await request(t.url).post('/verify').type('text/plain').send('a.b.c');
      if (res.status === 429) limited = res;
      else expect(res.status).toBe(400);
    }
    expect(limited).toBeDefined();
    expectOutcome(limited!, 429, /Too many \/verify requests from this address; retry after \d+ s/);
    expect(Number(limited!.headers['retry-after'])).toBeGreaterThan(0);
    // Other public routes are not counted against it.
    await request(t.url).get('/.well-known/jwks.json').expect(200);
  });
});
