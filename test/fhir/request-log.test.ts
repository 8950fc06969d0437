/**
 * Every answer's 'request served' line names its request id (the caller's X-Request-Id or a fresh one, as the
 * answer's header says), whichever path served it: the fast GET and POST lanes or Express. The id is passed to
 * the line, not carried by AsyncLocalStorage (see src/http/logger.ts).
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';

interface Line { msg: string; requestId?: string; method?: string; path?: string; status?: number }

describe.each(backends())('request log lines on %s', (backend) => {
  let t: TestHub;
  const lines: Line[] = [];
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Line);
        done();
      },
    });
    t = await startTestHub(backend, { logLevel: 'info' }, { logger: pino({ level: 'info' }, sink) });
  });
  afterAll(async () => t?.close());

  const served = async (path: string, requestId: string): Promise<Line> => {
    for (let i = 0; i < 50; i++) {
      const line = lines.find((l) => l.msg === 'request served' && l.requestId === requestId);
      if (line) return line;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no 'request served' line for ${path} with request id ${requestId}`);
  };

  test('fast lanes and Express each log the id their answer carries', async () => {
    const create = await fetch(`${t.fhirUrl}/Patient`, {
      method: 'POST', headers: { ...ADMIN, 'content-type': 'application/fhir+json', 'x-request-id': 'trace-create-1' },
      body: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Logline' }] }),
    });
    expect(create.status).toBe(201);
    expect(create.headers.get('x-request-id')).toBe('trace-create-1');
    const id = ((await create.json()) as { id: string }).id;
    expect(await served('POST /Patient', 'trace-create-1')).toMatchObject({ status: 201 });

    for (const path of [`/fhir/Patient/${id}`, '/fhir/Patient?family=Logline', '/fhir/metadata', '/fhir/Patient/no-such-patient']) {
      const r = await fetch(`${t.url}${path}`, { headers: { ...ADMIN, accept: 'application/fhir+json' } });
      await r.arrayBuffer();
      const requestId = r.headers.get('x-request-id');
      expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(await served(path, requestId!)).toMatchObject({ status: r.status });
    }
  });
  test("a follow-up check-in link's token is not written to the log", async () => {
    const token = 'Zq3vYx7Lw0pN4sT8uR1eK6mB9cD2fG5hJ0aS3dF6gH1';
    for (const path of [`/followup/${token}`, `/followup/${token}/stop`]) {
      const r = await fetch(`${t.url}${path}`, { headers: { 'x-request-id': `trace-followup-${path.length}` } });
      await r.arrayBuffer();
      expect(r.status).toBe(404);
      expect((await served(path, `trace-followup-${path.length}`)).path).toBe(path.replace(token, '[token]'));
    }
    expect(JSON.stringify(lines)).not.toContain(token);
  });
});
