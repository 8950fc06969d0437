/**
 * Express wiring of the SMART authorization server: /auth/authorize (GET and POST), /auth/login, /auth/consent,
 * /auth/token, /auth/introspect, /auth/revoke, /auth/jwks, /auth/admin/*, and the FHIR base's
 * /.well-known/smart-configuration. OAuth endpoints answer errors as `{error, error_description}`.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import type { Db } from '../store/db.js';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from '../store/db-unavailable.js';
import { reportDatabaseUnavailable } from '../http/errors.js';
import type { Repository } from '../store/repository-types.js';
import { createAdminRouter } from './admin-routes.js';
import { recordAudit, type AuditInput } from './audit.js';
import {
  approveAuthRequest,
  AuthorizePageError,
  AuthorizeRedirectError,
  createAuthRequest,
  denyAuthRequest,
  isSignedIn,
  loadAuthRequest,
  validateAuthorizeRequest,
  AUTH_REQUEST_LIFETIME_S,
} from './authorize.js';
import { getClient, isRegisteredOrigin } from './clients.js';
import { JwksFetcher } from './jwks-fetch.js';
import { publicJwks } from './keys.js';
import { startOtp, verifyOtp, type DemoAccount, type OtpSender, type PatientDirectory } from './login.js';
import { isOAuthError, OAuthError } from './oauth-error.js';
import { codePage, consentPage, emailPage, errorPage } from './pages.js';
import { fromUiLocales, pageLanguage, pageText, type PageLanguage } from './page-text.js';
import { preferredLanguage } from '../notify/mail-locale.js';
import type { Patient } from 'fhir/r4';
import { authRateLimit, DEFAULT_AUTH_RATE_LIMITS, type AuthRateLimits } from './rate-limit.js';
import { authUrls, openidConfiguration, smartConfiguration } from './smart-configuration.js';
import { authenticateClient, handleTokenRequest, type TokenContext, type TokenForm } from './token-endpoint.js';
import type { Principal } from './principal.js';
import { StaffAuthority } from './staff-authority.js';
import { signInAudience, startStaffOtp, verifyStaffOtp } from './staff-login.js';
import { scopesBeyondRole, staffById } from './staff.js';
import { introspectionCaller } from './introspection.js';
import { inspectToken, mayIntrospect, revokeToken, type IntrospectionCaller } from './token-service.js';

export interface AuthRouterDeps {
  db: Db;
  /** Public hub URL (issuer; /auth hangs below it), e.g. https://hub.example.org */
  baseUrl: string;
  /** Public FHIR base URL (token audience), e.g. https://hub.example.org/fhir */
  fhirBaseUrl: string;
  otpSender: OtpSender;
  patientDirectory: PatientDirectory;
  /** Admin bearer secret (>= 16 chars); absent -> admin API disabled. */
  adminToken?: string;
  demoAccounts?: readonly DemoAccount[];
  /** Email-to-SMS gateway address template (`{number}@sms.example.net`); phone sign-in is refused without it. */
  smsEmailGateway?: string;
  rateLimits?: AuthRateLimits;
  jwksFetcher?: JwksFetcher;
  /** The hub's authenticator, so staff operators' tokens are admitted to /auth/admin (else only the admin bearer). */
  authenticate?: (req: Request) => Promise<Principal>;
  /** Checks staff accounts behind staff tokens (introspection); the hub shares one with its authenticator. */
  staffAuthority?: StaffAuthority;
  /** Where staff accounts' Practitioners are written (default: a repository on `db`). */
  repo?: Repository;
  /** Where a database outage met here is logged (default: the console). */
  logger?: Pick<Logger, 'warn'>;
}

const COOKIE_PREFIX = 'vaxhub_ar_';

function cookies(req: Request): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.get('cookie') ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim());
  }
  return out;
}

function formOf(req: Request): TokenForm {
  const out: TokenForm = {};
  const src = (req.method === 'GET' ? req.query : req.body ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(src)) if (typeof v === 'string') out[k] = v;
  return out;
}

function sendOAuthError(res: Response, e: OAuthError): void {
  if (e.status === 401) res.set('WWW-Authenticate', `Bearer error="${e.error}"`);
  res.status(e.status).set('Cache-Control', 'no-store').json(e.toJSON());
}

export function createAuthRouter(deps: AuthRouterDeps): Router {
  const { db } = deps;
  const baseUrl = deps.baseUrl.replace(/\/+$/, '');
  const fhirBaseUrl = deps.fhirBaseUrl.replace(/\/+$/, '');
  const urls = authUrls(baseUrl);
  const cfg = { issuer: baseUrl, audience: fhirBaseUrl };
  const tokenCtx: TokenContext = { db, cfg, tokenUrl: urls.token, jwks: deps.jwksFetcher ?? new JwksFetcher() };
  const secureCookie = baseUrl.startsWith('https:');
  const limiter = authRateLimit(deps.rateLimits ?? DEFAULT_AUTH_RATE_LIMITS);
  const form = express.urlencoded({ extended: false, limit: '64kb' });
  const audit = (req: Request, a: Omit<AuditInput, 'who'> & { who?: AuditInput['who'] }): Promise<unknown> =>
    recordAudit(db, { ...a, who: { ...a.who, ...(req.ip ? { ip: req.ip } : {}) } }).catch(() => undefined);
  /**
   * The language of a page for this request (page-text.ts: pageLanguage). A `?lang=` choice from the pages' links
   * is kept on the authorization request, so the pages that follow a form post speak it too.
   */
  const languageOf = async (req: Request, p?: { id: string; uiLocale?: string; patientId?: string }): Promise<PageLanguage> => {
    const chosen = req.method === 'GET' ? fromUiLocales(typeof req.query.lang === 'string' ? req.query.lang : undefined) : undefined;
    if (chosen && p && chosen !== p.uiLocale) {
      await db.query('UPDATE auth_request SET ui_locale = $2 WHERE id = $1', [p.id, chosen]);
      p.uiLocale = chosen;
    }
    let saved: string | undefined;
    if (!chosen && !p?.uiLocale && p?.patientId) {
      const row = (await db.query<{ content: Patient | string }>("SELECT content FROM fhir_resource WHERE resource_type = 'Patient' AND id = $1 AND NOT deleted", [p.patientId])).rows[0];
      saved = preferredLanguage(typeof row?.content === 'string' ? JSON.parse(row.content) as Patient : row?.content);
    }
    return pageLanguage({ query: chosen, stored: p?.uiLocale, cookie: cookies(req).vaxhub_lang, saved, acceptLanguage: req.get('accept-language') });
  };
  const staffAuthority = deps.staffAuthority ?? new StaffAuthority(db);
  const loginDeps = { otpSender: deps.otpSender, patientDirectory: deps.patientDirectory, ...(deps.demoAccounts ? { demoAccounts: deps.demoAccounts } : {}), ...(deps.smsEmailGateway ? { smsEmailGateway: deps.smsEmailGateway } : {}) };
  const r = express.Router();

  // Discovery: public, any origin (SMART requires CORS here for browser apps).
  const fhirPath = new URL(fhirBaseUrl).pathname.replace(/\/+$/, '');
  r.get(`${fhirPath}/.well-known/smart-configuration`, (_req, res) => {
    res.set('Access-Control-Allow-Origin', '*').set('Cache-Control', 'public, max-age=300').json(smartConfiguration({ baseUrl }));
  });
  // OpenID Connect Discovery at the issuer (the hub's base URL), as `sso-openid-connect` promises.
  const issuerPath = new URL(baseUrl).pathname.replace(/\/+$/, '');
  r.get(`${issuerPath}/.well-known/openid-configuration`, (_req, res) => {
    res.set('Access-Control-Allow-Origin', '*').set('Cache-Control', 'public, max-age=300').json(openidConfiguration({ baseUrl }));
  });
  r.get('/auth/jwks', async (_req, res) => {
    res.set('Access-Control-Allow-Origin', '*').set('Cache-Control', 'public, max-age=60').json(await publicJwks(db));
  });

  // --- authorization endpoint (GET and POST: capability authorize-post) ---
  const authorize = async (req: Request, res: Response): Promise<void> => {
    const params = formOf(req);
    try {
      const valid = await validateAuthorizeRequest(db, params, fhirBaseUrl);
      const { id, browserSecret } = await createAuthRequest(db, valid);
      res.cookie(`${COOKIE_PREFIX}${id}`, browserSecret, {
        httpOnly: true, sameSite: 'lax', secure: secureCookie, path: '/auth', maxAge: AUTH_REQUEST_LIFETIME_S * 1000,
      });
      res.set('Cache-Control', 'no-store').redirect(303, `${valid.launch ? 'consent' : 'login'}?request=${id}`);
    } catch (e) {
      const detail = e instanceof Error ? e.message : 'error';
      void audit(req, { action: 'authorize', outcome: 'failure', who: { ...(params.client_id ? { clientId: params.client_id } : {}) }, detail });
      if (e instanceof AuthorizeRedirectError) res.set('Cache-Control', 'no-store').redirect(302, e.location);
      else if (e instanceof AuthorizePageError) res.status(400).type('html').send(errorPage(e.message, await languageOf(req)));
      else throw e;
    }
  };
  r.get('/auth/authorize', limiter, authorize);
  r.post('/auth/authorize', form, limiter, authorize);

  const pending = (req: Request) => {
    const id = formOf(req).request;
    return loadAuthRequest(db, id, id ? cookies(req)[`${COOKIE_PREFIX}${id}`] : undefined);
  };
  const expired = async (req: Request, res: Response): Promise<void> => {
    const lang = await languageOf(req);
    res.status(400).type('html').send(errorPage(pageText(lang, 'expired'), lang));
  };

  // --- sign-in by one-time code: a patient, or a staff member when the app asks for user/ scopes ---
  r.get('/auth/login', async (req, res) => {
    const p = await pending(req);
    if (!p) return expired(req, res);
    const client = await getClient(db, p.clientId);
    const lang = await languageOf(req, p);
    res.set('Cache-Control', 'no-store').type('html').send(emailPage(p.id, client?.name ?? p.clientId, undefined, signInAudience(p.scope), lang));
  });
  r.post('/auth/login', form, limiter, async (req, res) => {
    const p = await pending(req);
    if (!p) return expired(req, res);
    const client = await getClient(db, p.clientId);
    const lang = await languageOf(req, p);
    res.set('Cache-Control', 'no-store').type('html');
    // The answer goes out before the address is looked up and the code queued (deliverAfter), so a known and an
    // unknown address take the same path and the same time.
    const deliverAfter = (deliver: () => void): void => void res.once('close', deliver);
    if (signInAudience(p.scope) === 'staff') {
      const started = await startStaffOtp(db, loginDeps, p.id, formOf(req).email ?? '');
      if (!started.ok) return void res.status(400).send(emailPage(p.id, client?.name ?? p.clientId, pageText(lang, 'invalidEmail'), 'staff', lang));
      deliverAfter(started.deliver);
      return void res.send(codePage(p.id, undefined, 'staff', 'login', lang));
    }
    const started = await startOtp(db, loginDeps, p.id, formOf(req).email ?? '');
    if (started.ok) {
      deliverAfter(started.deliver);
      return void res.send(codePage(p.id, undefined, started.channel, 'login', lang));
    }
    const msg = pageText(lang, ({ 'invalid-email': 'invalidEmail', 'invalid-phone': 'invalidPhone', 'phone-unavailable': 'phoneUnavailable' } as const)[started.reason]);
    res.status(400).send(emailPage(p.id, client?.name ?? p.clientId, msg, 'patient', lang));
  });
  r.post('/auth/login/verify', form, limiter, async (req, res) => {
    const p = await pending(req);
    if (!p) return expired(req, res);
    if (signInAudience(p.scope) === 'staff') return verifyStaff(req, res, p);
    const result = await verifyOtp(db, loginDeps, p.id, formOf(req).code ?? '');
    void audit(req, {
      action: 'login', outcome: result.ok ? 'success' : 'failure', who: { clientId: p.clientId, ...(result.ok ? { user: `Patient/${result.patientId}` } : {}) },
      ...(result.ok ? { patientId: result.patientId } : { detail: result.reason }),
    });
    if (result.ok) return void res.redirect(303, `../consent?request=${p.id}`);
    const lang = await languageOf(req, p);
    const msg = pageText(lang, result.reason === 'wrong' ? 'wrongCode' : 'codeSpent');
    res.status(400).set('Cache-Control', 'no-store').type('html').send(codePage(p.id, msg, 'email', 'verify', lang));
  });

  const verifyStaff = async (req: Request, res: Response, p: NonNullable<Awaited<ReturnType<typeof pending>>>): Promise<void> => {
    const result = await verifyStaffOtp(db, p.id, formOf(req).code ?? '');
    void audit(req, {
      action: 'login', outcome: result.ok ? 'success' : 'failure', who: { clientId: p.clientId, ...(result.ok ? { user: result.staff.fhirUser } : {}) },
      ...(result.ok ? {} : { detail: result.reason }),
    });
    res.set('Cache-Control', 'no-store');
    const lang = await languageOf(req, p);
    if (!result.ok) {
      const msg = pageText(lang, result.reason === 'wrong' ? 'wrongCode' : 'codeSpent');
      return void res.status(400).type('html').send(codePage(p.id, msg, 'staff', 'verify', lang));
    }
    // The person is known now: a scope their role does not hold is refused here, before any consent.
    const beyond = scopesBeyondRole(result.staff.role, p.scope);
    if (beyond.length) {
      await db.query('UPDATE auth_request SET staff_id = NULL, completed = true WHERE id = $1', [p.id]);
      return void res.status(403).type('html').send(errorPage(pageText(lang, 'roleRefused', { role: result.staff.role, scopes: beyond.join(' ') }), lang));
    }
    res.redirect(303, `../consent?request=${p.id}`);
  };

  // --- consent ---
  /** Who signed in on a request, for the audit trail: the patient, or the staff member. */
  const signedInAs = async (p: { patientId?: string; staffId?: string }): Promise<{ user?: string; patientId?: string }> => {
    if (p.patientId) return { user: `Patient/${p.patientId}`, patientId: p.patientId };
    const staff = p.staffId ? await staffById(db, p.staffId) : undefined;
    return staff ? { user: staff.fhirUser } : {};
  };
  r.get('/auth/consent', async (req, res) => {
    const p = await pending(req);
    if (!p || !isSignedIn(p)) return expired(req, res);
    const client = await getClient(db, p.clientId);
    const lang = await languageOf(req, p);
    res.set('Cache-Control', 'no-store').type('html').send(consentPage(p.id, client?.name ?? p.clientId, p.scope, p.staffId ? 'staff' : 'patient', lang));
  });
  r.post('/auth/consent', form, async (req, res) => {
    const p = await pending(req);
    if (!p || !isSignedIn(p)) return expired(req, res);
    const approve = formOf(req).decision === 'approve';
    const location = approve ? await approveAuthRequest(db, p) : await denyAuthRequest(db, p);
    const who = await signedInAs(p);
    void audit(req, { action: 'authorize', outcome: approve ? 'success' : 'denied', who: { clientId: p.clientId, ...(who.user ? { user: who.user } : {}) }, ...(who.patientId ? { patientId: who.patientId } : {}), query: p.scope });
    res.clearCookie(`${COOKIE_PREFIX}${p.id}`, { path: '/auth' }).redirect(303, location);
  });

  // --- token endpoint, with CORS for registered browser origins ---
  const cors = async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const origin = req.get('origin');
    if (origin && (await isRegisteredOrigin(db, origin))) {
      res.set('Access-Control-Allow-Origin', origin).set('Vary', 'Origin');
      if (req.method === 'OPTIONS') {
        res.set('Access-Control-Allow-Methods', 'POST').set('Access-Control-Allow-Headers', 'Content-Type, Authorization').set('Access-Control-Max-Age', '600');
      }
    }
    if (req.method === 'OPTIONS') return void res.status(204).end();
    next();
  };
  r.options(['/auth/token', '/auth/revoke'], cors);
  r.post('/auth/token', cors, form, limiter, async (req, res) => {
    const f = formOf(req);
    res.set('Cache-Control', 'no-store').set('Pragma', 'no-cache');
    try {
      const out = await handleTokenRequest(tokenCtx, f);
      void audit(req, { action: 'token', outcome: 'success', who: { clientId: out.clientId }, ...(out.patientId ? { patientId: out.patientId } : {}), query: `grant_type=${f.grant_type} scope=${out.body.scope}` });
      res.json(out.body);
    } catch (e) {
      if (!isOAuthError(e)) throw e;
      void audit(req, { action: 'token', outcome: 'failure', who: { ...(f.client_id ? { clientId: f.client_id } : {}) }, detail: `${e.error}: ${e.description}`, query: `grant_type=${f.grant_type ?? ''}` });
      sendOAuthError(res, e);
    }
  });

  // --- introspection (RFC 7662): the caller authenticates (admin bearer, client assertion or their own access token)
  // and learns only about tokens it may (src/auth/introspection.ts); every other token answers {active:false} ---
  const introspectionAuth = { db, tokenCtx, ...(deps.adminToken ? { adminToken: deps.adminToken } : {}), staffAuthority };
  r.post('/auth/introspect', form, async (req, res) => {
    res.set('Cache-Control', 'no-store');
    const f = formOf(req);
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
    let caller: IntrospectionCaller;
    try {
      caller = await introspectionCaller(introspectionAuth, bearer, f);
    } catch (e) {
      return sendOAuthError(res, isOAuthError(e) ? e : new OAuthError('invalid_token', 'bad token'));
    }
    const t = await inspectToken(db, cfg, f.token ?? '', { staffActive: (who) => staffAuthority.isActive(who) });
    if (t && !mayIntrospect(caller, t)) {
      // Someone asked about a live token that is not theirs: answered as if it were unknown, and audited (naming
      // the patient whose token it is, so their audit trail shows the attempt).
      void audit(req, {
        action: 'token', outcome: 'denied', what: 'POST /auth/introspect',
        who: { ...(caller.kind !== 'operator' ? { clientId: caller.clientId } : {}) },
        ...(t.patientId ? { patientId: t.patientId } : {}),
        detail: 'introspection of a token issued to another client or sign-in refused',
      });
    }
    res.json(t && mayIntrospect(caller, t) ? t.response : { active: false });
  });

  // --- revocation (RFC 7009): client authenticates like at the token endpoint; always 200 for a known client ---
  r.post('/auth/revoke', cors, form, async (req, res) => {
    const f = formOf(req);
    res.set('Cache-Control', 'no-store');
    try {
      if (!f.token) throw new OAuthError('invalid_request', 'token is required');
      const client = await authenticateClient(tokenCtx, f);
      await revokeToken(db, cfg, f.token, client.id);
      res.status(200).json({});
    } catch (e) {
      if (!isOAuthError(e)) throw e;
      sendOAuthError(res, e);
    }
  });

  r.use('/auth/admin', createAdminRouter(db, {
    adminToken: deps.adminToken,
    ...(deps.authenticate ? { authenticate: deps.authenticate } : {}),
    ...(deps.repo ? { repo: deps.repo } : {}),
    audit: (event) => void recordAudit(db, event).catch(() => undefined),
  }));

  // Malformed bodies and anything unexpected: OAuth's error shape, never a stack trace.
  r.use('/auth', (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    // A database outage: OAuth's temporarily_unavailable with Retry-After (clients retry), never server_error.
    if (isDatabaseUnavailable(err)) {
      reportDatabaseUnavailable(deps.logger ?? console, err, req.originalUrl.split('?')[0]);
      res.set('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
      return sendOAuthError(res, new OAuthError('temporarily_unavailable', 'The database is unavailable for a moment; retry after the time in Retry-After'));
    }
    const status = (err as { status?: number }).status;
    if (status && status >= 400 && status < 500) {
      return sendOAuthError(res, new OAuthError('invalid_request', (err as Error).message || 'bad request', status));
    }
    console.error('auth router error', err);
    sendOAuthError(res, new OAuthError('server_error', 'internal error'));
  });
  return r;
}
