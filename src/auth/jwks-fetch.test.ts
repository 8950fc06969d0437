import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { cacheSeconds, JwksFetcher } from './jwks-fetch.js';
import { FixedWindowLimiter } from './rate-limit.js';

describe('cacheSeconds', () => {
  it.each([
    [null, 0],
    ['public, max-age=120', 120],
    ['max-age=0', 0],
    ['no-store, max-age=600', 0],
    ['no-cache', 0],
    ['max-age=999999', 3600],
    ['max-age=abc', 0],
  ])('%s -> %d', (header, seconds) => {
    expect(cacheSeconds(header)).toBe(seconds);
  });
});

describe('JwksFetcher', () => {
  let server: http.Server;
  let base: string;
  let hits = 0;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      hits++;
      if (req.url === '/bad') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"nokeys":1}');
      const cc = req.url === '/cached' ? 'max-age=30' : 'no-store';
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': cc }).end('{"keys":[{"kty":"EC","kid":"a"}]}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  it('reuses a response only while max-age allows', async () => {
    let now = 1_000_000;
    const f = new JwksFetcher(() => now);
    hits = 0;
    await f.get(`${base}/cached`);
    await f.get(`${base}/cached`);
    expect(hits).toBe(1);
    now += 31_000;
    await f.get(`${base}/cached`);
    expect(hits).toBe(2);
    await f.get(`${base}/cached`, { fresh: true });
    expect(hits).toBe(3);
    await f.get(`${base}/nostore`);
    await f.get(`${base}/nostore`);
    expect(hits).toBe(5);
  });

  it('refuses documents without a keys array and unreachable URLs', async () => {
    const f = new JwksFetcher();
    await expect(f.get(`${base}/bad`)).rejects.toThrow(/no keys/);
    await expect(f.get('http://127.0.0.1:1/jwks')).rejects.toThrow(/cannot fetch/);
  });
});

describe('FixedWindowLimiter', () => {
  it('allows the limit per window and reports seconds until reset', () => {
    let now = 60_000 * 10 + 15_000;
    const l = new FixedWindowLimiter({ limit: 2, windowMs: 60_000, now: () => now });
    expect(l.hit('a')).toBe(0);
    expect(l.hit('a')).toBe(0);
    expect(l.hit('a')).toBe(45);
    expect(l.hit('b')).toBe(0);
    now += 45_000;
    expect(l.hit('a')).toBe(0);
  });
});
