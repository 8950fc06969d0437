/**
 * A Bulk Data server acting as an EHR, for the EHR connector's tests: SMART Backend Services token endpoint
 * (assertions verified against the hub's JWK Set URL, the algorithm, kid and jku of each one recorded), Group
 * `$export` with `_type` and `_since` served correctly (resources changed after `_since`, deletions as `deleted`
 * entries), files split so a client can fetch several at once, and the faults real EHRs and file servers show:
 * a file that breaks off mid-way, `error` files of OperationOutcomes, files that need the token or (like a
 * pre-signed S3 URL) refuse one.
 * @see https://hl7.org/fhir/uv/bulkdata/STU2/export.html
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import type { Immunization, OperationOutcome, Patient } from 'fhir/r4';

type Stored = (Patient | Immunization) & { meta: { lastUpdated: string } };

export interface PeerOptions {
  /** The hub's JWK Set URL, where assertions' keys are found (the EHR's registration of the hub). */
  jwksUrl: string;
  clientId: string;
}

export interface PeerFaults {
  /** Each file answers `requiresAccessToken` like this; false: a file request carrying a token is refused (400). */
  requiresAccessToken: boolean;
  /** File names that break off half-way, each this many times before being served whole (Infinity: always). */
  breakMidFile: Record<string, number>;
  /** OperationOutcomes the next manifests list in an `error` file. */
  errors: OperationOutcome[];
  /** Immunizations per output file (so an export has several). */
  perFile: number;
  /** Lifetime of the access tokens it issues (30 s or less: the client asks for a new one each time). */
  tokenLifetimeS: number;
}

export interface KickOff {
  group: string;
  type: string | null;
  since: string | null;
}

export class BulkDataPeer {
  readonly server = http.createServer((req, res) => {
    this.handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(e));
    });
  });
  url = '';
  private readonly resources = new Map<string, Stored>();
  private readonly deletions: Array<{ ref: string; at: string }> = [];
  private readonly groups = new Map<string, string[]>();
  private readonly tokens = new Set<string>();
  private readonly jobs = new Map<string, { files: Map<string, string>; manifest: Record<string, unknown>; polled: number }>();
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;
  faults: PeerFaults = { requiresAccessToken: true, breakMidFile: {}, errors: [], perFile: 2, tokenLifetimeS: 300 };
  /** What the client did, for the tests to check. */
  readonly seen = {
    kickOffs: [] as KickOff[],
    assertions: [] as Array<{ alg: string; kid: string | undefined; jku: string | undefined }>,
    fileRequests: [] as Array<{ name: string; withToken: boolean }>,
    maxParallelDownloads: 0,
    deletes: 0,
  };
  private downloading = 0;

  constructor(private readonly opts: PeerOptions) {
    this.jwks = createRemoteJWKSet(new URL(opts.jwksUrl), { cacheMaxAge: 0, cooldownDuration: 0 });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  get fhirUrl(): string {
    return `${this.url}/fhir`;
  }

  /** Stores (or changes) a resource now. */
  put(r: Patient | Immunization): void {
    this.resources.set(`${r.resourceType}/${r.id}`, { ...r, meta: { lastUpdated: new Date().toISOString() } } as Stored);
  }

  delete(ref: string): void {
    this.resources.delete(ref);
    this.deletions.push({ ref, at: new Date().toISOString() });
  }

  group(id: string, patientIds: string[]): void {
    this.groups.set(id, patientIds);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const u = new URL(req.url!, this.url);
    if (req.method === 'POST' && u.pathname === '/token') return this.token(req, res);
    const file = /^\/files\/([^/]+)\/([^/]+)$/.exec(u.pathname);
    if (file) return this.file(req, res, file[1]!, file[2]!);
    if (!this.authorized(req)) return json(res, 401, outcome('error', 'login', 'a valid bearer token is required'));
    const kick = /^\/fhir\/Group\/([^/]+)\/\$export$/.exec(u.pathname);
    if (kick && req.method === 'GET') return this.kickOff(res, kick[1]!, u.searchParams);
    const status = /^\/status\/([^/]+)$/.exec(u.pathname);
    if (status && req.method === 'GET') return this.status(res, status[1]!);
    if (status && req.method === 'DELETE') {
      this.seen.deletes++;
      this.jobs.delete(status[1]!);
      res.writeHead(202).end();
      return;
    }
    json(res, 404, outcome('error', 'not-found', `no route ${req.method} ${u.pathname}`));
  }

  private authorized(req: http.IncomingMessage): boolean {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    return m !== null && this.tokens.has(m[1]!);
  }

  private async token(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let body = '';
    for await (const c of req) body += String(c);
    const form = new URLSearchParams(body);
    const assertion = form.get('client_assertion') ?? '';
    try {
      const header = decodeProtectedHeader(assertion);
      // A jku must name the JWK Set URL the EHR registered (never fetch keys from wherever a token points).
      if (header.jku !== undefined && header.jku !== this.opts.jwksUrl) throw new Error(`unregistered jku ${header.jku}`);
      await jwtVerify(assertion, this.jwks, { issuer: this.opts.clientId, subject: this.opts.clientId, audience: `${this.url}/token`, algorithms: ['ES384', 'RS384'] });
      this.seen.assertions.push({ alg: String(header.alg), kid: header.kid, jku: header.jku as string | undefined });
    } catch (e) {
      json(res, 400, { error: 'invalid_client', error_description: (e as Error).message });
      return;
    }
    const token = randomUUID();
    this.tokens.add(token);
    json(res, 200, { access_token: token, token_type: 'bearer', expires_in: this.faults.tokenLifetimeS, scope: form.get('scope') });
  }

  private kickOff(res: http.ServerResponse, group: string, params: URLSearchParams): void {
    const since = params.get('_since');
    this.seen.kickOffs.push({ group, type: params.get('_type'), since });
    const members = this.groups.get(group);
    if (!members) return json(res, 404, outcome('error', 'not-found', `no Group ${group}`));
    const types = (params.get('_type') ?? 'Patient,Immunization').split(',');
    const transactionTime = new Date().toISOString();
    const changed = (r: Stored): boolean => !since || r.meta.lastUpdated > since;
    const inGroup = (r: Stored): boolean =>
      r.resourceType === 'Patient' ? members.includes(r.id!) : members.includes((r as Immunization).patient.reference!.replace(/^Patient\//, ''));
    const files = new Map<string, string>();
    const output: Array<{ type: string; url: string; count: number }> = [];
    const id = randomUUID();
    const fileUrl = (name: string): string => `${this.url}/files/${id}/${name}`;
    for (const type of types) {
      const rows = [...this.resources.values()].filter((r) => r.resourceType === type && inGroup(r) && changed(r));
      const size = type === 'Immunization' ? this.faults.perFile : Number.MAX_SAFE_INTEGER;
      for (let i = 0; i * size < rows.length; i++) {
        const part = rows.slice(i * size, (i + 1) * size);
        const name = `${type}-${i + 1}.ndjson`;
        files.set(name, part.map((r) => JSON.stringify(r)).join('\n') + '\n');
        output.push({ type, url: fileUrl(name), count: part.length });
      }
    }
    const error: typeof output = [];
    if (this.faults.errors.length) {
      files.set('errors.ndjson', this.faults.errors.map((e) => JSON.stringify(e)).join('\n') + '\n');
      error.push({ type: 'OperationOutcome', url: fileUrl('errors.ndjson'), count: this.faults.errors.length });
    }
    const deleted: typeof output = [];
    const gone = since ? this.deletions.filter((d) => d.at > since && types.includes(d.ref.split('/')[0]!)) : [];
    if (gone.length) {
      const bundles = gone.map((d) => JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'DELETE', url: d.ref } }] }));
      files.set('deleted.ndjson', bundles.join('\n') + '\n');
      deleted.push({ type: 'Bundle', url: fileUrl('deleted.ndjson'), count: gone.length });
    }
    const manifest = {
      transactionTime,
      request: `${this.fhirUrl}/Group/${group}/$export`,
      requiresAccessToken: this.faults.requiresAccessToken,
      output,
      error,
      ...(since ? { deleted } : {}),
    };
    this.jobs.set(id, { files, manifest, polled: 0 });
    res.writeHead(202, { 'content-location': `${this.url}/status/${id}` }).end();
  }

  private status(res: http.ServerResponse, id: string): void {
    const job = this.jobs.get(id);
    if (!job) return json(res, 404, outcome('error', 'not-found', `no job ${id}`));
    // One "in progress" answer first, as a real export gives.
    if (job.polled++ === 0) {
      res.writeHead(202, { 'retry-after': '0', 'x-progress': 'working' }).end();
      return;
    }
    json(res, 200, job.manifest);
  }

  private file(req: http.IncomingMessage, res: http.ServerResponse, id: string, name: string): void {
    const withToken = req.headers.authorization !== undefined;
    this.seen.fileRequests.push({ name, withToken });
    if (this.faults.requiresAccessToken && !this.authorized(req)) return json(res, 401, outcome('error', 'login', 'this file needs the bearer token'));
    // A pre-signed URL's server refuses credentials it did not issue.
    if (!this.faults.requiresAccessToken && withToken) return json(res, 400, outcome('error', 'security', 'unexpected Authorization header'));
    const body = this.jobs.get(id)?.files.get(name);
    if (body === undefined) return json(res, 404, outcome('error', 'not-found', `no file ${name}`));
    this.downloading++;
    this.seen.maxParallelDownloads = Math.max(this.seen.maxParallelDownloads, this.downloading);
    res.on('close', () => this.downloading--);
    const breaks = this.faults.breakMidFile[name] ?? 0;
    // Held until a second download is in flight (or 2 s pass, for a client that fetches one at a time), so that a
    // client's parallel downloads are seen overlapping whatever the machine's speed.
    this.holdUntilParallel(() => {
      if (breaks > 0) {
        this.faults.breakMidFile[name] = breaks - 1;
        res.writeHead(200, { 'content-type': 'application/fhir+ndjson', 'content-length': String(Buffer.byteLength(body)) });
        // Half the bytes, then the connection dies.
        res.write(body.slice(0, Math.floor(body.length / 2)), () => res.destroy());
        return;
      }
      res.writeHead(200, { 'content-type': 'application/fhir+ndjson' }).end(body);
    });
  }

  private held: Array<() => void> = [];
  private holdUntilParallel(go: () => void): void {
    if (this.downloading >= 2) {
      const all = [...this.held, go];
      this.held = [];
      for (const f of all) f();
      return;
    }
    let done = false;
    const once = (): void => {
      if (done) return;
      done = true;
      go();
    };
    this.held.push(once);
    setTimeout(() => {
      this.held = this.held.filter((f) => f !== once);
      once();
    }, 2000).unref();
  }
}

function outcome(severity: 'error' | 'warning', code: string, diagnostics: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code: code as 'exception', diagnostics }] };
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
