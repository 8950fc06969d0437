/**
 * The operator API under /auth/admin: client registration, EHR launch contexts, audit search, staff accounts.
 * Open to operators: a signed-in staff operator (SMART token with `vaxhub/operator`, account active), or the admin
 * bearer secret from config (break-glass, scripts, the local CLI). With neither configured the API is disabled.
 */
import { timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { JWK } from 'jose';
import type { Db } from '../store/db.js';
import type { Repository } from '../store/repository-types.js';
import { FhirRepository } from '../store/repository.js';
import { searchAudit, type AuditAction, type AuditInput, type AuditOutcome } from './audit.js';
import { registerLaunch } from './authorize.js';
import { ClientRegistrationError, deleteClient, disableClient, enableClient, getClient, listClients, registerClient, type ClientRegistration } from './clients.js';
import { auditOutcome, auditWho } from './fhir-audit.js';
import { OAuthError } from './oauth-error.js';
import { INTERNAL_SYSTEM, type Principal } from './principal.js';
import { createStaffAdminRouter } from './staff-routes.js';

export const MIN_ADMIN_TOKEN_LENGTH = 16;

/** Whether a bearer is the operator's admin token (compared in constant time; a short admin token never matches). */
export function isAdminBearer(adminToken: string | undefined, bearer: string | undefined): boolean {
  if (!adminToken || adminToken.length < MIN_ADMIN_TOKEN_LENGTH || bearer === undefined) return false;
  const x = Buffer.from(bearer);
  const y = Buffer.from(adminToken);
  return x.length === y.length && timingSafeEqual(x, y);
}

export interface AdminAuthOptions {
  /** The admin bearer secret (break-glass); absent or short -> only staff operators get in. */
  adminToken: string | undefined;
  /** The hub's authenticator: a staff operator's token becomes a principal of kind `admin` (src/auth/staff-authority.ts). */
  authenticate?: (req: Request) => Promise<Principal>;
  /** Records each change an operator makes (POST, PUT, PATCH, DELETE) as an AuditEvent naming who made it. */
  audit?: (event: AuditInput) => void;
}

const CHANGES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * An operator's change (any non-read request on an operator route) becomes an AuditEvent naming the person (a staff
 * operator's Practitioner) or the operator token, once the answer is sent, with its outcome.
 */
export function auditOperatorChange(audit: (e: AuditInput) => void, req: Request, res: Response, principal: Principal): void {
  if (!CHANGES.has(req.method)) return;
  res.on('finish', () => audit({
    action: 'admin',
    outcome: auditOutcome(res.statusCode),
    who: auditWho(principal, req.ip),
    what: `${req.method} ${req.baseUrl}${req.path}`,
    ...(res.statusCode >= 400 ? { detail: `HTTP ${res.statusCode}` } : {}),
  }));
}
export const OPERATORS_ONLY =
  'operators only: this token carries no operator authority. Sign in to the admin console as an active staff operator (scope vaxhub/operator), or use the operator token (ADMIN_TOKEN)';

/**
 * Admits operators: the admin bearer, or (with `authenticate`) a staff operator's SMART token. The operator is left in
 * `res.locals.principal`. No or a bad token: 401; a valid token without operator authority (a patient's, a system
 * client's, a staff member without the operator role): 403; a disabled staff account's token: 401 saying so.
 */
export function adminAuth(opts: AdminAuthOptions) {
  const { adminToken } = opts;
  const configured = !!adminToken && adminToken.length >= MIN_ADMIN_TOKEN_LENGTH;
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!configured && !opts.authenticate) {
      res.status(503).json({ error: 'temporarily_unavailable', error_description: 'admin API disabled: no admin token configured' });
      return;
    }
    const admit = (principal: Principal): void => {
      res.locals.principal = principal;
      if (opts.audit) auditOperatorChange(opts.audit, req, res, principal);
      next();
    };
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
    if (isAdminBearer(adminToken, bearer)) return admit(INTERNAL_SYSTEM);
    const unauthorized = (description: string): void => {
      res.set('WWW-Authenticate', `Bearer realm="vaxhub-admin", error="invalid_token"`).status(401).json({ error: 'invalid_token', error_description: description });
    };
    if (!bearer || !opts.authenticate) return unauthorized(opts.authenticate ? 'an operator\'s bearer token is required' : 'admin bearer token required');
    opts.authenticate(req).then(
      (p) => {
        if (p.kind === 'admin') return admit(p);
        res.set('WWW-Authenticate', 'Bearer realm="vaxhub-admin", error="insufficient_scope"').status(403).json({ error: 'insufficient_scope', error_description: OPERATORS_ONLY });
      },
      (e: unknown) => {
        if ((e as { status?: number }).status === 401) return unauthorized((e as Error).message || 'invalid token');
        next(e);
      },
    );
  };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Accepts RFC 7591-style snake_case metadata or this module's camelCase. */
export function registrationFromJson(b: Record<string, unknown>): ClientRegistration {
  const arr = (v: unknown): string[] | undefined => (Array.isArray(v) ? v.map(String) : undefined);
  const jwks = (b.jwks ?? undefined) as { keys: JWK[] } | undefined;
  const reg: ClientRegistration = {
    id: str(b.id) ?? str(b.client_id) ?? '',
    type: (str(b.type) ?? 'public') as ClientRegistration['type'],
    scope: str(b.scope) ?? '',
  };
  const name = str(b.name) ?? str(b.client_name);
  if (name) reg.name = name;
  const redirects = arr(b.redirectUris ?? b.redirect_uris);
  if (redirects) reg.redirectUris = redirects;
  const origins = arr(b.allowedOrigins ?? b.allowed_origins);
  if (origins) reg.allowedOrigins = origins;
  if (jwks) reg.jwks = jwks;
  const jwksUrl = str(b.jwksUrl ?? b.jwks_uri ?? b.jwks_url);
  if (jwksUrl) reg.jwksUrl = jwksUrl;
  const jku = str(b.jku);
  if (jku) reg.jku = jku;
  if (b.policy && typeof b.policy === 'object') reg.policy = b.policy as ClientRegistration['policy'] & object;
  return reg;
}

export function createAdminRouter(db: Db, opts: AdminAuthOptions & { repo?: Repository }): Router {
  const r = express.Router();
  r.use(adminAuth(opts), express.json({ limit: '256kb' }));
  r.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });

  r.get('/clients', async (_req, res) => {
    res.json(await listClients(db));
  });
  r.get('/clients/:id', async (req, res) => {
    const c = await getClient(db, req.params.id, { includeDisabled: true });
    if (c) res.json(c);
    else res.status(404).json({ error: 'invalid_request', error_description: 'no such client' });
  });
  r.post('/clients', async (req, res) => {
    try {
      const client = await registerClient(db, registrationFromJson((req.body ?? {}) as Record<string, unknown>));
      res.status(201).json(client);
    } catch (e) {
      if (e instanceof ClientRegistrationError || e instanceof OAuthError) {
        res.status(400).json({ error: 'invalid_client_metadata', error_description: e instanceof OAuthError ? e.description : e.message });
        return;
      }
      throw e;
    }
  });
  // Deleting or disabling a client revokes its access and refresh tokens at once (src/auth/clients.ts); the
  // operator's change is audited like every change here (auditOperatorChange).
  const noSuchClient = (res: Response): void => void res.status(404).json({ error: 'invalid_request', error_description: 'no such client' });
  r.delete('/clients/:id', async (req, res) => {
    if (await deleteClient(db, req.params.id)) res.status(204).end();
    else noSuchClient(res);
  });
  r.post('/clients/:id/disable', async (req, res) => {
    const c = await disableClient(db, req.params.id);
    if (c) res.json(c);
    else noSuchClient(res);
  });
  r.post('/clients/:id/enable', async (req, res) => {
    const c = await enableClient(db, req.params.id);
    if (c) res.json(c);
    else noSuchClient(res);
  });

  r.post('/launch', async (req, res) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    const patientId = str(b.patient);
    const fhirUser = str(b.fhirUser);
    const clientId = str(b.client_id);
    if (!patientId || !/^[A-Za-z0-9\-.]{1,64}$/.test(patientId)) {
      res.status(400).json({ error: 'invalid_request', error_description: 'patient (a Patient id) is required' });
      return;
    }
    if (fhirUser !== undefined && !/^(Patient|Practitioner|PractitionerRole|RelatedPerson|Person)\/[A-Za-z0-9\-.]{1,64}$/.test(fhirUser)) {
      res.status(400).json({ error: 'invalid_request', error_description: 'fhirUser must be a relative reference like Practitioner/123' });
      return;
    }
    const out = await registerLaunch(db, { patientId, ...(fhirUser ? { fhirUser } : {}), ...(clientId ? { clientId } : {}) });
    res.status(201).json({ launch: out.launch, expires_in: out.expiresIn, patient: patientId });
  });

  r.use('/staff', createStaffAdminRouter(db, opts.repo ?? new FhirRepository(db)));

  r.get('/audit', async (req, res) => {
    const q = req.query;
    const since = str(q.since);
    if (since !== undefined && Number.isNaN(Date.parse(since))) {
      res.status(400).json({ error: 'invalid_request', error_description: 'since must be an ISO date-time' });
      return;
    }
    const events = await searchAudit(db, {
      ...(str(q.patient) ? { patientId: str(q.patient)! } : {}),
      ...(str(q.client) ? { clientId: str(q.client)! } : {}),
      ...(str(q.action) ? { action: str(q.action) as AuditAction } : {}),
      ...(str(q.outcome) ? { outcome: str(q.outcome) as AuditOutcome } : {}),
      ...(str(q.since) ? { since: str(q.since)! } : {}),
      ...(str(q._count) ? { limit: Number(str(q._count)) || 100 } : {}),
    });
    res.type('application/fhir+json').json({
      resourceType: 'Bundle',
      type: 'searchset',
      total: events.length,
      entry: events.map((resource) => ({ resource })),
    });
  });
  return r;
}
