/**
 * Plugs SMART authorization into the hub: the bearer guard and access policy for /fhir, the OAuth
 * endpoints under /auth, discovery, and the CapabilityStatement's security section.
 */
import type { Patient } from 'fhir/r4';
import type { Hub } from '../app.js';
import type { AnyResource } from '../store/repository-types.js';
import type { ModuleRegistry } from '../wiring-types.js';
import { INTERNAL_SYSTEM, policyGroupIds } from './principal.js';
import { principalFromRequest } from './guard.js';
import { smartAccessPolicy } from './fhir-access-policy.js';
import { allowAllPolicy } from '../fhir/access.js';
import { createAuthRouter } from './router.js';
import { capabilityStatementSecurity, smartConfiguration } from './smart-configuration.js';
import { DEMO_ACCOUNTS, type OtpSender, type PatientDirectory } from './login.js';
import { decorateCapabilityStatement } from '../fhir/capability.js';
import { enqueueMail } from '../notify/outbox.js';
import { mailLanguage, preferredLanguage } from '../notify/mail-locale.js';
import { signInCodeMail } from '../notify/public-mail.js';
import { isRegisteredOrigin } from './clients.js';
import { isAdminBearer } from './admin-routes.js';
import { purgeExpiredAuthState } from './housekeeping.js';
import { ensureSigningKey } from './keys.js';
import { membersOfGroupId } from '../sync/bulk/group-members.js';
import { StaffAuthority } from './staff-authority.js';
import { DEMO_STAFF } from './staff.js';


export function wireAuth(hub: Hub, registry: ModuleRegistry): void {
  const { config, db, repo, app } = hub;
  const issuer = config.baseUrl;
  // The hub's token-signing key exists from the start (generated on the first start, never on a first request).
  // Should this fail (database briefly away), the first token issued creates it instead.
  const keyReady = ensureSigningKey(db).then(
    (kid) => hub.logger.debug({ kid }, 'token signing key ready'),
    (e: unknown) => hub.logger.warn({ err: e }, 'could not ensure the token signing key at start; it is created on first use'),
  );
  hub.onClose(() => keyReady);
  registry.setPolicy(config.devOpenAccess ? allowAllPolicy : smartAccessPolicy);
  // Staff tokens: the account must be active; an operator's becomes operator authority naming the person.
  const staffAuthority = new StaffAuthority(db);
  registry.setAuthenticator(async (req) => {
    const authorization = req.headers.authorization;
    const bearer = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    if (isAdminBearer(config.adminToken, bearer)) return INTERNAL_SYSTEM;
    const principal = await principalFromRequest(authorization, { db, baseUrl: config.fhirBaseUrl, issuer });
    if (principal.kind === 'user') return staffAuthority.principalFor(principal);
    const groupIds = principal.kind === 'system' && !principal.policy?.patientIds ? policyGroupIds(principal.policy) : [];
    if (groupIds.length) {
      // A registry limited to its jurisdictions' Groups: resolve the members once per request (a Group defined by
      // address or clinic is evaluated now, so patients added since are in; one it cannot evaluate has none).
      const patientIds = new Set<string>();
      for (const groupId of groupIds) {
        const members = await membersOfGroupId(repo, groupId);
        if (members.problems.length) hub.logger.warn({ clientId: principal.clientId, groupId, problems: members.problems }, 'registry Group has no members');
        for (const id of members.patientIds) patientIds.add(id);
      }
      return { ...principal, policy: { ...principal.policy, patientIds: [...patientIds] } };
    }
    return principal;
  });

  const patientOf = async (id: string): Promise<Patient | undefined> =>
    (await repo.readOptional<AnyResource>('Patient', id)) as unknown as Patient | undefined;
  const otpSender: OtpSender = {
    async send(to, code, patientId) {
      if (!config.smtpUrl && !config.mailDir && [...DEMO_ACCOUNTS, ...DEMO_STAFF].some((a) => a.email === to)) {
        // Demo convenience only: with no mail transport configured, the fixed demo accounts' codes go to the log.
        hub.logger.warn({ demoAccount: to, code }, 'demo sign-in code (no SMTP_URL configured)');
      }
      // In the person's language (Patient.communication), as all mail to the public is.
      const mail = signInCodeMail(mailLanguage(preferredLanguage(patientId ? await patientOf(patientId) : undefined)), code);
      await db.transaction((tx) =>
        enqueueMail(tx, {
          kind: 'one-time-code',
          to,
          ...mail,
          dedupeKey: `otp:${to}:${code}`,
          mailClass: 'urgent',
          redactAfterSend: true,
        }),
      );
    },
  };
  const patientDirectory: PatientDirectory = {
    async findByEmail(email) {
      const r = await repo.search('Patient', { email, _count: '2' });
      return r.resources.length === 1 ? r.resources[0]!.id : undefined;
    },
    async findByPhone(phone) {
      // The hub's `phone-digits` index holds each phone/SMS number as digits only, however it was written.
      const r = await repo.search('Patient', { 'phone-digits': phone.replace(/\D/g, ''), _count: '2' });
      return r.resources.length === 1 ? r.resources[0]!.id : undefined;
    },
    async holds(patientId, contact) {
      const by: Record<string, string> = 'email' in contact ? { email: contact.email } : { 'phone-digits': contact.phone.replace(/\D/g, '') };
      return (await repo.search('Patient', { _id: patientId, ...by, _count: '1' })).resources.length === 1;
    },
  };
  // CORS for browser apps: a registered client's origin may call the FHIR API (discovery and metadata: any origin).
  const originCache = new Map<string, { ok: boolean; at: number }>();
  app.use('/fhir', (req, res, next) => {
    const origin = req.get('origin');
    if (!origin || req.path === '/metadata' || req.path.startsWith('/.well-known/')) return next();
    const hit = originCache.get(origin);
    const decide = (ok: boolean): void => {
      if (ok) {
        res.set('Access-Control-Allow-Origin', origin);
        res.set('Vary', 'Origin');
        res.set('Access-Control-Expose-Headers', 'Location, ETag, Last-Modified, Content-Location, X-Progress, Retry-After, Expires');
        if (req.method === 'OPTIONS') {
          res.set('Access-Control-Allow-Methods', 'GET, POST, PUT, DELETE, OPTIONS');
          res.set('Access-Control-Allow-Headers', 'Authorization, Content-Type, Accept, Prefer, If-Match, If-None-Exist, If-None-Match, Idempotency-Key, X-Claim-Token, X-Provenance');
          res.set('Access-Control-Max-Age', '600');
          res.status(204).end();
          return;
        }
      }
      next();
    };
    if (hit && Date.now() - hit.at < 30_000) return decide(hit.ok);
    isRegisteredOrigin(db, origin).then(
      (ok) => {
        originCache.set(origin, { ok, at: Date.now() });
        decide(ok);
      },
      (e: unknown) => next(e),
    );
  });
  // Expired codes, requests, replay-store entries and revocations are dropped hourly.
  const housekeeping = setInterval(() => {
    purgeExpiredAuthState(db).catch((e: unknown) => hub.logger.warn({ err: e }, 'auth housekeeping failed'));
  }, 3_600_000);
  housekeeping.unref();
  hub.onClose(() => clearInterval(housekeeping));

  app.get('/fhir/.well-known/smart-configuration', (_req, res) => {
    res.set('Access-Control-Allow-Origin', '*').json(smartConfiguration({ baseUrl: config.baseUrl }));
  });
  app.use(
    createAuthRouter({
      db,
      baseUrl: config.baseUrl,
      fhirBaseUrl: config.fhirBaseUrl,
      otpSender,
      patientDirectory,
      adminToken: config.adminToken,
      authenticate: (req) => registry.authenticate(req),
      staffAuthority,
      repo,
      logger: hub.logger,
      demoAccounts: DEMO_ACCOUNTS,
      ...(config.smsEmailGateway ? { smsEmailGateway: config.smsEmailGateway } : {}),
    }),
  );
  decorateCapabilityStatement((cs) => {
    const rest = cs.rest?.[0];
    if (rest) rest.security = capabilityStatementSecurity(config.baseUrl) as never;
  });
}

