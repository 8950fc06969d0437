/**
 * Composition root: opens the database, runs migrations, and builds the Express app from the
 * capability modules. Every init has its close, called in reverse order on shutdown.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import express, { type Express, type Request } from 'express';
import type { Logger } from 'pino';
import type { Config } from './config/config.js';
import { NEVER_WAITS, type Db } from './store/db.js';
import { DEFAULT_CONNECT_TIMEOUT_MS, PgDb } from './store/pg-db.js';
import { connectionBudget, DEFAULT_PIPELINES, DEFAULT_POOL_MAX, serverConnectionLimits } from './store/connection-budget.js';
import { DATABASE_RETRY_AFTER_SECONDS } from './store/db-unavailable.js';
import { PgliteDb } from './store/pglite-db.js';
import { migrate } from './store/migrate.js';
import { reindexPending } from './fhir/search/reindex.js';
import { removeHubInfo, runningHub, writeHubInfo } from './store/embedded-lock.js';
import { FhirRepository } from './store/repository.js';
import type { AccessPolicy, FhirContext, OperationDefinition, WriteInterceptor } from './fhir/types.js';
import { allowAllPolicy } from './fhir/access.js';
import { createFhirRouter, type OnServed } from './http/fhir-express.js';
import { createFastGet } from './http/fast-get.js';
import { createFastPost, type FastPostCheck } from './http/fast-post.js';
import proxyaddr from 'proxy-addr';
import { guardRootRouters } from './http/route-prefixes.js';
import { loggedPath, requestIdOf } from './http/served.js';
import { createLogger } from './http/logger.js';
import { errorHandler } from './http/errors.js';
import { securityHeaders } from './http/security-headers.js';
import { refuseHostileInput } from './http/hostile-input.js';
import { ANONYMOUS, type Principal } from './auth/principal.js';
import { AuditBuffer } from './auth/audit-buffer.js';
import { auditOfFhirRequest } from './auth/fhir-audit.js';
import type { AuditInput } from './auth/audit.js';
import { deliveriesSettled } from './auth/login.js';

export interface Hub {
  config: Config;
  db: Db;
  repo: FhirRepository;
  logger: Logger;
  app: Express;
  fhir: FhirContext;
  /** Start-up and shutdown state shown by /readyz. */
  status: { seeding: boolean; draining?: boolean };
  /** Handlers tried before Express for the hottest endpoints; each returns true when it answered. */
  fastPaths: Array<(req: http.IncomingMessage, res: http.ServerResponse) => boolean>;
  /** Checks a module runs in front of the FHIR router as Express middleware, for the fast POST lane to run too. */
  fastPostChecks: FastPostCheck[];
  /** Records an AuditEvent (batched, append-only) for interactions outside the FHIR router, e.g. card downloads. */
  audit(event: AuditInput): void;
  /**
   * Register closers (workers, timers) to run on shutdown, newest first. `name` is what a stop that overruns its
   * deadline reports as still open (default: the closer's source text).
   */
  onClose(fn: () => Promise<void> | void, name?: string): void;
  /** Runs every closer (one that fails is logged and the rest still run), then closes the database; once. */
  close(): Promise<void>;
  /** What a close in progress still waits for: the closer running now, those after it, open HTTP connections. */
  stillOpen(): { waitingFor?: string; notYetClosed: string[]; httpConnections: number };
}

export async function openDb(config: Pick<Config, 'databaseUrl' | 'dataDir'> & Partial<Pick<Config, 'cluster'>>): Promise<Db> {
  if (!config.databaseUrl) return PgliteDb.open(config.dataDir);
  const c = config.cluster;
  if (!c) return new PgDb(config.databaseUrl);
  // Several nodes (or workers), or a pool size given: the per-process share of the server's max_connections.
  let pool = DEFAULT_POOL_MAX;
  let pipelines = DEFAULT_PIPELINES;
  if (c.nodesGiven || c.processesPerNode > 1 || c.poolMax !== undefined) {
    const limits = await serverConnectionLimits(config.databaseUrl, DEFAULT_CONNECT_TIMEOUT_MS);
    ({ pool, pipelines } = connectionBudget({ ...limits, reservedOther: c.reservedConnections, processes: c.nodes * c.processesPerNode, poolMax: c.poolMax }));
  }
  const replicas = c.readUrls.length ? { urls: c.readUrls, maxLagMs: c.readMaxLagMs, poolMax: pool } : undefined;
  return new PgDb(config.databaseUrl, pool, pipelines, DEFAULT_CONNECT_TIMEOUT_MS, replicas);
}

export interface HubOptions {
  /** Use this database instead of opening one from config (tests). */
  db?: Db;
  logger?: Logger;
}

export async function createHub(inputConfig: Config, opts: HubOptions = {}): Promise<Hub> {
  // Without a configured ADMIN_TOKEN the operator API still works locally: a random per-start token that only
  // the local CLI can read (DATA_DIR/hub.json, mode 0600). Never a default secret.
  const config: Config = { ...inputConfig, adminToken: inputConfig.adminToken ?? randomBytes(24).toString('base64url') };
  const logger = opts.logger ?? createLogger(config.logLevel);
  if (!opts.db && !config.databaseUrl) {
    // Claim DATA_DIR before opening PGlite, so a CLI started meanwhile never opens the same files.
    const other = runningHub(config.dataDir);
    if (other) throw new Error(`another hub (pid ${other.pid}) is serving the embedded database in ${config.dataDir}`);
    writeHubInfo(config.dataDir, { pid: process.pid });
  }
  const db = opts.db ?? (await openDb(config));
  await migrate(db);
  // Index rows a migration asked to rebuild (changed extraction), before anything searches them.
  await reindexPending(db, (msg, fields) => logger.info(fields, msg));
  const repo = new FhirRepository(db);
  const closers: Array<{ name: string; fn: () => Promise<void> | void }> = [];
  const closeState: { waitingFor?: string; notYetClosed: string[]; httpConnections: number } = { notYetClosed: [], httpConnections: 0 };
  let closing: Promise<void> | undefined;
  const operations: OperationDefinition[] = [];
  const interceptors: WriteInterceptor[] = [];
  let policy: AccessPolicy = allowAllPolicy;
  let authenticate: (req: http.IncomingMessage) => Promise<Principal> = async () => ANONYMOUS;
  const fhir: FhirContext = {
    db,
    repo,
    get policy() {
      return policy;
    },
    interceptors,
    operations,
    views: new Map(),
  };

  const audit = new AuditBuffer(db, { logger });
  closers.push({ name: 'audit buffer flush', fn: () => audit.close() });
  // Sign-in codes are queued after their answer is sent: the ones under way are written before the database closes.
  closers.push({ name: 'sign-in code deliveries', fn: () => deliveriesSettled() });
  const app = express();
  app.disable('x-powered-by');
  // Whose X-Forwarded-For names the client (rate limits per address): loopback unless TRUST_PROXY says more.
  app.set('trust proxy', config.cluster?.trustProxy ?? ['loopback']);
  app.set('query parser', 'extended');
  app.use((req, res, next) => {
    const requestId = requestIdOf(req);
    res.setHeader('x-request-id', requestId);
    // The 'request served' line (no listener at all when info lines are not logged).
    if (logger.isLevelEnabled('info')) {
      const started = process.hrtime.bigint();
      res.on('finish', () => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        logger.info({ requestId, method: req.method, path: loggedPath(req.path), status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request served');
      });
    }
    next();
  });
  // No page framed; a NUL or deep JSON refused before any route, parser-driven recursion or query meets it.
  app.use(securityHeaders, refuseHostileInput);
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  const status: Hub['status'] = { seeding: false };
  app.get('/readyz', async (_req, res) => {
    try {
      if (status.draining) {
        // Stopping (SIGTERM): the load balancer takes this node out while requests in flight finish.
        res.status(503).json({ status: 'draining', database: db.kind });
        return;
      }
      // On a pipelined connection (NEVER_WAITS): a pool busy with bookings must not make a health check time out
      // and a balancer take a healthy node out.
      await db.query(`${NEVER_WAITS}SELECT 1`);
      if (status.seeding) {
        res.status(503).json({ status: 'seeding', database: db.kind });
        return;
      }
      res.json({ status: 'ready', database: db.kind });
    } catch {
      // As every answer during an outage: when to ask again.
      res.status(503).set('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS)).json({ status: 'unavailable', database: db.kind });
    }
  });

  const hub: Hub = {
    config,
    db,
    repo,
    logger,
    app,
    fhir,
    fastPaths: [],
    fastPostChecks: [],
    status,
    audit: (event) => audit.add(event),
    onClose(fn, name) {
      closers.push({ name: name ?? String(fn).replace(/\s+/g, ' ').slice(0, 80), fn });
    },
    close() {
      closing ??= (async () => {
        const steps = [...closers].reverse();
        if (!opts.db) steps.push({ name: `database (${db.kind})`, fn: () => db.close() });
        closeState.notYetClosed = steps.map((s) => s.name);
        let failed: unknown;
        for (const step of steps) {
          closeState.notYetClosed.shift();
          closeState.waitingFor = step.name;
          try {
            await step.fn();
          } catch (e) {
            // The others still run: a failed worker stop must not leave the database open.
            failed ??= e;
            logger.error({ err: e, closer: step.name }, 'shutdown: a closer failed');
          }
        }
        closeState.waitingFor = undefined;
        // hub.json goes only once the database is really closed: until then no other hub may open DATA_DIR.
        if (!opts.db && !config.databaseUrl && !failed) removeHubInfo(config.dataDir);
        if (failed) throw failed;
      })();
      return closing;
    },
    stillOpen: () => ({ ...closeState, notYetClosed: [...closeState.notYetClosed] }),
  };

  // One authentication per request, however many layers ask (an opening-night booking is asked about by the
  // admission gate twice and by the FHIR router once): a token is verified, and a staff account checked, once.
  const authenticated = new WeakMap<http.IncomingMessage, Promise<Principal>>();
  const authenticateOnce = (req: http.IncomingMessage): Promise<Principal> => {
    let p = authenticated.get(req);
    if (!p) authenticated.set(req, (p = authenticate(req)));
    return p;
  };

  // Capability modules register their routes, operations, interceptors and access policy here.
  const modules = await import('./modules.js');
  const wiring = await modules.registerModules(hub, {
    addOperation: (op) => operations.push(op),
    addInterceptor: (i) => interceptors.push(i),
    setPolicy: (p) => {
      policy = p;
    },
    setAuthenticator: (fn) => {
      authenticate = fn;
    },
    authenticate: authenticateOnce,
  });

  const auditServed: OnServed = (req, status, out, text) => {
    const a = auditOfFhirRequest(req, status, out, text);
    if (a) audit.add(a);
  };
  app.use(
    '/fhir',
    createFhirRouter({
      context: () => fhir,
      baseUrl: config.fhirBaseUrl,
      maxBodyBytes: config.maxBodyBytes,
      authenticate: authenticateOnce,
      onServed: auditServed,
    }),
  );
  // Plain reads and searches are answered before Express, with the same answer (src/http/fast-get.ts).
  hub.fastPaths.push(
    createFastGet({
      context: () => fhir,
      baseUrl: config.fhirBaseUrl,
      authenticate: authenticateOnce,
      onServed: auditServed,
      logger,
      fallback: (req, res) => hub.app(req as Request, res as express.Response),
      ...(wiring.trackResponse ? { track: wiring.trackResponse } : {}),
    }),
  );
  // Creates and type-level operations ($book) likewise, with the checks modules put in front of the router.
  const trustProxy = app.get('trust proxy fn') as (addr: string, i: number) => boolean;
  hub.fastPaths.push(
    createFastPost({
      context: () => fhir,
      baseUrl: config.fhirBaseUrl,
      maxBodyBytes: config.maxBodyBytes,
      authenticate: authenticateOnce,
      onServed: auditServed,
      checks: hub.fastPostChecks,
      clientIp: (req) => proxyaddr(req, trustProxy),
      logger,
      fallback: (req, res) => hub.app(req as Request, res as express.Response),
      ...(wiring.trackResponse ? { track: wiring.trackResponse } : {}),
    }),
  );
  wiring.afterFhir?.();
  app.use((req, res) => {
    res.status(404).type('application/fhir+json').send(
      JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found', diagnostics: `No route for ${req.method} ${req.path}` }] }),
    );
  });
  app.use(errorHandler(logger));
  // Every module is mounted: requests skip the capability routers whose routes cannot match their path.
  logger.debug({ guarded: guardRootRouters(app) }, 'root routers guarded by path prefix');
  return hub;
}

/** The hub's http request listener: the fast paths first, then Express. */
export function requestListener(hub: Hub): http.RequestListener {
  return (req, res) => {
    for (const fast of hub.fastPaths) if (fast(req, res)) return;
    hub.app(req, res);
  };
}

/**
 * How long an idle keep-alive connection stays open: longer than the clients' and load balancers' own idle times
 * (HAProxy, cloud balancers: 60 s), so the hub never closes a socket at the moment a client reuses it, which the
 * client sees as ECONNRESET. Node's default is 5 s.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** Starts listening; resolves with the server. Graceful shutdown drains in-flight requests. */
export async function listen(hub: Hub): Promise<http.Server> {
  const server = http.createServer(requestListener(hub));
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  // Counted for the shutdown report: connections still open when the drain overruns.
  let connections = 0;
  server.on('connection', (socket) => {
    connections++;
    socket.once('close', () => connections--);
  });
  // A crowd opening connections faster than the loop accepts them waits in the kernel's accept queue; past it the
  // kernel drops the SYN and the client retries after 1 s, then 3 s (seen as second-long "refusals"). Node asks for
  // 511; ask for what the kernel allows (net.core.somaxconn caps it, 4096 on current kernels).
  await new Promise<void>((resolve) => server.listen({ port: hub.config.port, host: hub.config.host, backlog: 4096 }, resolve));
  if (hub.db.kind === 'pglite') {
    const port = (server.address() as { port: number }).port;
    writeHubInfo(hub.config.dataDir, { pid: process.pid, url: `http://127.0.0.1:${port}`, adminToken: hub.config.adminToken! });
  }
  hub.onClose(
    () =>
      new Promise<void>((resolve) => {
        // In-flight requests get the grace period; idle keep-alive connections close now, the rest after it.
        const timer = setTimeout(() => {
          server.closeAllConnections();
          resolve();
        }, hub.config.shutdownGraceMs);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      }),
    'HTTP server (draining requests in flight)',
  );
  // A stop that overruns its deadline also reports the connections this server still has.
  const closeState = hub.stillOpen.bind(hub);
  hub.stillOpen = () => ({ ...closeState(), httpConnections: connections });
  return server;
}
