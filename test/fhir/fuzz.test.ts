/**
 * 1,000 seeded malformed requests over real HTTP: invalid JSON, wrong types, deep nesting, wrong or missing
 * resourceType, top-level arrays/nulls/strings, bad ids, bad dates, wrong content types, junk search strings
 * (SQL-ish, bad percent-encoding, NUL) and forged cursors. Every answer must be a 4xx OperationOutcome
 * (searches with junk values may also be an empty searchset), never a 5xx; stored resources stay intact.
 */
import http from 'node:http';
import type { Bundle } from 'fhir/r4';
import { ADMIN, backends, startTestHub, type TestHub } from '../helpers/hub.js';
import { prng as rng } from '../../src/seed/demo-data.js';

const SEED = 0x5eed2;

interface Case {
  kind: string;
  method: string;
  path: string;
  contentType?: string;
  body?: string;
  /** Searches with junk values may legitimately answer an empty searchset. */
  emptySearchOk?: boolean;
  /** A forged cursor of the right shape cannot be told from a real one: any searchset is fine. */
  anySearchOk?: boolean;
  /** `Prefer: handling=strict`, so unknown parameter names are 400 rather than warnings. */
  strict?: boolean;
}

interface Answer {
  status: number;
  text: string;
}

function send(base: URL, c: Case): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...ADMIN, accept: 'application/fhir+json' };
    if (c.contentType) headers['content-type'] = c.contentType;
    if (c.strict) headers.prefer = 'handling=strict';
    if (c.body !== undefined) headers['content-length'] = String(Buffer.byteLength(c.body));
    const req = http.request({ host: base.hostname, port: base.port, method: c.method, path: c.path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (c.body !== undefined) req.write(c.body);
    req.end();
  });
}

const validPatient = { resourceType: 'Patient', name: [{ family: 'Fuzz', given: ['Base'] }], gender: 'female', birthDate: '1980-01-01' };

/** Builds the deterministic list of malformed requests; `existing` are ids stored before the run. */
function makeCases(existing: string[], n: number): Case[] {
  const r = rng(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const junkChars = `'";\\)(%_*|$,&=<>!#\u00e9\u4e2d\u{1F489}\t\u0000`;
  const junk = (len: number) => {
    // Starts with a character no stored value starts with, so a junk string search can only match nothing.
    let s = pick([`'`, `"`, ';', ')', '\\']);
    for (let i = 0; i < len; i++) s += r() < 0.5 ? pick([...junkChars]) : String.fromCharCode(int(0x21, 0x7e));
    return s;
  };
  const sqlish = [`' OR '1'='1`, `'; DROP TABLE fhir_resource; --`, `") OR 1=1 --`, `' UNION SELECT content FROM fhir_history --`, `'||pg_sleep(5)||'`, `$1`, `\\x00`, `%' AND 1=1 --`];
  const jsonTypes = ['application/fhir+json', 'application/json'];
  const badTypes = ['text/plain', 'application/xml', 'application/fhir+xml', 'multipart/form-data; boundary=x', 'image/png', undefined];
  const patientFields = ['name', 'gender', 'birthDate', 'identifier', 'active', 'telecom', 'address', 'meta', 'text', 'deceasedBoolean'];
  const wrongFor: Record<string, unknown[]> = {
    // NUL cannot be stored in jsonb/text; a lone surrogate is not Unicode.
    name: [42, 'Smith', { family: 'x' }, [42], [{ family: 7 }], [{ given: 'Ann' }], [{ family: 'a\u0000b' }], [{ family: '\ud800' }]],
    gender: [42, true, ['female'], { code: 'female' }, 'sometimes', ''],
    birthDate: [19800101, 'yesterday', '1980-02-30', '1980-13-01', '80-01-01', '1980-01-01T25:00:00Z', ['1980']],
    identifier: ['abc', 42, { value: 'x' }, [{ value: 9 }], [{ system: 3, value: 'x' }]],
    active: ['yes', 1, [true], { value: true }],
    telecom: ['555', [{ system: 'carrier-pigeon', value: 'x' }], [{ value: 1 }]],
    address: ['1 Main St', [{ line: 'x' }], [{ postalCode: 12345 }]],
    meta: ['m', [{}], { lastUpdated: 'noon' }, { versionId: 3 }],
    text: ['hello', { status: 'generated', div: 5 }, { status: 'bogus', div: '<div xmlns="http://www.w3.org/1999/xhtml">x</div>' }],
    deceasedBoolean: ['no', 0, [false]],
  };
  const deep = (depth: number, kind: number) => {
    if (kind === 0) return '['.repeat(depth) + ']'.repeat(depth);
    if (kind === 1) return `{"resourceType":"Patient","extension":${'[{"url":"http://x","extension":'.repeat(depth)}[]${'}]'.repeat(depth)}}`;
    return `{"resourceType":"Patient","name":[{"family":"x","extension":[${'{"url":"u","valueCodeableConcept":{"coding":[{"extension":['.repeat(Math.min(depth, 400))}${']}]}}'.repeat(Math.min(depth, 400))}]}]}`;
  };
  const invalidJson = [
    '{', '}', '{"resourceType":"Patient",}', "{'resourceType':'Patient'}", '{"resourceType":"Patient" "gender":"male"}', 'NaN', 'undefined',
    '{"resourceType":"Patient","birthDate":1980-01-01}', '\ufeff{"resourceType":"Patient"', '{"a":"\\uZZZZ"}', '{"resourceType":"Patient"}}', '[1,2,', '"unterminated',
    '{"resourceType":"Patient","gender":"\\u0000"}', '\u0000\u0001\u0002',
  ];
  const topLevel = ['null', '[]', '[{"resourceType":"Patient"}]', '"Patient"', '42', 'true', '{}', '""', '[null]'];
  const types = ['Patient', 'Immunization', 'Slot', 'Appointment', 'Location', 'Schedule'];
  const badIds = ['a b', 'x'.repeat(65), 'id_with_underscore', '%00', '%E0%A4%A', 'é', '*', "'1'", 'a%2Fb'];
  const searchKeys = ['family', 'given', 'identifier', 'birthdate', 'gender', '_id', '_lastUpdated', '_count', '_sort', '_include', '_revinclude', '_summary', '_total', 'family:exact', 'family:contains', 'gender:missing', 'patient', 'patient.identifier', 'date', 'vaccine-code', 'organization', 'name:text'];
  const cases: Case[] = [];
  const bodyCase = (kind: string, body: string, contentType: string | undefined = pick(jsonTypes)): Case => {
    const target = r();
    if (target < 0.45) return { kind, method: 'POST', path: `/fhir/${pick(types)}`, contentType, body };
    if (target < 0.8) return { kind, method: 'PUT', path: `/fhir/Patient/${pick(existing)}`, contentType, body };
    if (target < 0.95) return { kind, method: 'POST', path: '/fhir', contentType, body };
    return { kind, method: 'POST', path: `/fhir/Patient/_search`, contentType: 'application/fhir+json', body };
  };
  while (cases.length < n) {
    const k = int(0, 11);
    switch (k) {
      case 0:
        cases.push(bodyCase('invalid-json', pick(invalidJson)));
        break;
      case 1: {
        const field = pick(patientFields);
        const p: Record<string, unknown> = { ...validPatient, [field]: pick(wrongFor[field]!) };
        cases.push(bodyCase(`wrong-type:${field}`, JSON.stringify(p)));
        break;
      }
      case 2:
        cases.push(bodyCase('deep-nesting', deep(pick([50, 500, 2000, 20000]), int(0, 2))));
        break;
      case 3: {
        const rt = pick([undefined, 'Patinet', 'patient', 'Medication', 'Bundle', 'OperationOutcome', 42, null, ['Patient'], { x: 1 }, '']);
        const { resourceType: _rt, ...rest } = validPatient;
        void _rt;
        const p = rt === undefined ? rest : { ...rest, resourceType: rt };
        // POST to the type endpoint, so a valid other type still mismatches the URL.
        cases.push({ kind: 'wrong-resourceType', method: pick(['POST', 'PUT']) === 'POST' ? 'POST' : 'PUT', path: '/fhir/Patient', contentType: pick(jsonTypes), body: JSON.stringify(p) });
        const last = cases[cases.length - 1]!;
        if (last.method === 'PUT') last.path = `/fhir/Patient/${pick(existing)}`;
        break;
      }
      case 4:
        cases.push(bodyCase('top-level', pick(topLevel)));
        break;
      case 5: {
        const id = pick(badIds);
        const body = JSON.stringify({ ...validPatient, id: pick([id, 'other-id', 42, null]) });
        cases.push({ kind: 'bad-id', method: 'PUT', path: `/fhir/Patient/${id.includes('%') ? id : encodeURIComponent(id)}`, contentType: pick(jsonTypes), body });
        break;
      }
      case 6: {
        const field = pick(['birthDate', 'deceasedDateTime', 'meta']);
        const bad = pick(['2021-02-29', '2021-00-10', '0000-00-00', '2021-1-1', '20210101', '2021-01-01T10:00', '2021-01-01T10:00:00+25:00', 'today', '']);
        const body = field === 'meta' ? { ...validPatient, meta: { lastUpdated: bad } } : { ...validPatient, [field]: bad };
        cases.push(bodyCase(`bad-date:${field}`, JSON.stringify(body)));
        break;
      }
      case 7: {
        const ct = pick(badTypes);
        cases.push(bodyCase(`content-type:${ct ?? 'none'}`, pick([JSON.stringify(validPatient), '<Patient xmlns="http://hl7.org/fhir"/>', 'hello']), ct));
        break;
      }
      case 8: {
        // Junk search values (strict handling so unknown names are 400 too).
        const key = pick(searchKeys);
        const value = r() < 0.4 ? pick(sqlish) : junk(int(1, 30));
        const type = key === 'patient' || key === 'patient.identifier' || key === 'date' || key === 'vaccine-code' ? 'Immunization' : 'Patient';
        cases.push({ kind: `search:${key}`, method: 'GET', path: `/fhir/${type}?${encodeURIComponent(key)}=${encodeURIComponent(value)}`, emptySearchOk: true, strict: true });
        break;
      }
      case 9: {
        // Raw, badly encoded query strings and paths.
        const raw = pick(['%', '%zz', '%E0%A4%A', '%00', '%C0%AF', 'family=%FF%FE', '_count=%2D1', '_sort=%00', 'family=a&family=%', '_count=99999999999999999999', '_count=1e3', 'birthdate=ge%00', 'family=%ED%A0%80', 'family=a%00b', 'name%00=x']);
        cases.push({ kind: 'raw-query', method: 'GET', path: pick([`/fhir/Patient?${raw}`, `/fhir/Patient/${raw.replace(/[=&]/g, '')}`, `/fhir/${raw.replace(/[=&]/g, '')}`]), emptySearchOk: true, strict: true });
        break;
      }
      case 11: {
        // Valid JSON and valid-looking FHIR, but strings PostgreSQL cannot store (NUL, unpaired surrogates).
        const bad = pick(['a\u0000b', '\u0000', '\ud800', 'x\udc00y', '\ud83d']);
        const where = pick([
          { ...validPatient, name: [{ family: bad }] },
          { ...validPatient, extension: [{ url: 'http://example.org/x', valueString: bad }] },
          { ...validPatient, identifier: [{ system: 'urn:test:fuzz', value: bad }] },
          { ...validPatient, text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${bad}</div>` } },
        ]);
        cases.push(bodyCase('unstorable', JSON.stringify(where)));
        break;
      }
      default: {
        const sortCount = int(0, 2);
        const sort = ['', '&_sort=birthdate', '&_sort=-family,gender'][sortCount];
        const wellShaped = r() < 0.3;
        const forged = wellShaped
          ? Buffer.from(JSON.stringify([int(0, 1e6), ...Array.from({ length: sortCount }, () => junk(5))])).toString('base64url')
          : pick([
              Buffer.from(JSON.stringify({ rid: 1 })).toString('base64url'),
              Buffer.from(JSON.stringify(['1', 'x'])).toString('base64url'),
              Buffer.from(JSON.stringify([1.5])).toString('base64url'),
              Buffer.from(JSON.stringify([1e308, '2020'])).toString('base64url'),
              Buffer.from(JSON.stringify([1, 2, 3, 4])).toString('base64url'),
              Buffer.from(junk(20)).toString('base64url'),
              junk(12),
              '',
            ]);
        cases.push({ kind: 'cursor', method: 'GET', path: `/fhir/Patient?_cursor=${encodeURIComponent(forged)}${sort}`, anySearchOk: wellShaped });
        break;
      }
    }
  }
  return cases;
}

describe.each(backends())('1,000 malformed requests against the hub on %s', (backend) => {
  let t: TestHub;
  const stored: Array<{ id: string; resource: unknown }> = [];
  beforeAll(async () => {
    t = await startTestHub(backend);
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${t.fhirUrl}/Patient`, {
        method: 'POST',
        headers: { ...ADMIN, 'content-type': 'application/fhir+json' },
        body: JSON.stringify({ ...validPatient, identifier: [{ system: 'urn:test:fuzz', value: `keep-${i}` }] }),
      });
      expect(res.status).toBe(201);
      const body = (await res.json()) as { id: string };
      stored.push({ id: body.id, resource: body });
    }
  });
  afterAll(async () => {
    await t.close();
  });

  test('every answer is a 4xx OperationOutcome (or an empty searchset), never a 5xx; stored data intact', async () => {
    const cases = makeCases(stored.map((s) => s.id), 1000);
    const base = new URL(t.url);
    const failures: string[] = [];
    const kinds = new Map<string, number>();
    for (const c of cases) {
      kinds.set(c.kind.split(':')[0]!, (kinds.get(c.kind.split(':')[0]!) ?? 0) + 1);
      const a = await send(base, c);
      let body: { resourceType?: string; type?: string; entry?: Array<{ search?: { mode?: string } }> } | undefined;
      try {
        body = JSON.parse(a.text) as typeof body;
      } catch {
        body = undefined;
      }
      const isOutcome = body?.resourceType === 'OperationOutcome';
      const emptySearch = a.status === 200 && body?.resourceType === 'Bundle' && body.type === 'searchset' && !(body.entry ?? []).some((e) => e.search?.mode === 'match');
      const anySearch = a.status === 200 && body?.resourceType === 'Bundle' && body.type === 'searchset';
      const ok = (a.status >= 400 && a.status < 500 && isOutcome) || (c.emptySearchOk && emptySearch) || (c.anySearchOk && anySearch);
      if (!ok) failures.push(`${c.kind} ${c.method} ${c.path.slice(0, 120)} ${c.contentType ?? ''} body=${(c.body ?? '').slice(0, 80)} -> ${a.status} ${a.text.slice(0, 200)}`);
    }
    expect(failures).toEqual([]);
    // The generator covered every family of malformation.
    expect([...kinds.keys()].sort()).toEqual(['bad-date', 'bad-id', 'content-type', 'cursor', 'deep-nesting', 'invalid-json', 'raw-query', 'search', 'top-level', 'unstorable', 'wrong-resourceType', 'wrong-type']);

    for (const s of stored) {
      const res = await fetch(`${t.fhirUrl}/Patient/${s.id}`, { headers: ADMIN });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual(s.resource);
    }
    const all = (await (await fetch(`${t.fhirUrl}/Patient?_summary=count`, { headers: ADMIN })).json()) as Bundle;
    expect(all.total).toBe(stored.length);
    const history = (await (await fetch(`${t.fhirUrl}/Patient/_history`, { headers: ADMIN })).json()) as Bundle;
    expect(history.entry).toHaveLength(stored.length);
  });
});
