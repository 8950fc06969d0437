/**
 * Serves the SMART apps (smart-apps/, built by esbuild) under /apps/<name>/ and registers the patient wallet, the
 * sign-up app and the admin console as public SMART clients. The apps reach the hub only through its public FHIR,
 * SMART and credential APIs, like any third-party app; the hub merely hosts their files. The bundles are built at start when smart-apps/dist is
 * missing or older than the sources (about 0.3 s), so a newcomer never runs a second server or build step.
 */
import fs from 'node:fs';
import path from 'node:path';
import express, { type Response, type Router } from 'express';
import type { Hub } from '../app.js';
import type { ModuleRegistry } from '../wiring-types.js';
import { ClientRegistrationError, registerClient } from '../auth/clients.js';
import { APPS, DEFAULT_OUT_DIR, buildApps, isBuildFresh } from '../../smart-apps/build.js';
import { requireAdmin } from '../http/admin-guard.js';
import { loadTierRules } from '../scheduling/eligibility/rules.js';
import { loadProducts } from '../scheduling/products.js';
import { createAppSupportRouter, signupConfig } from './operator-routes.js';

export const WALLET_CLIENT_ID = 'vaxhub-wallet';
/** Everything the wallet asks for (`launch` for EHR launches from a portal). */
export const WALLET_CLIENT_SCOPE =
  'launch launch/patient openid fhirUser offline_access patient/Patient.rs patient/Immunization.rs patient/Appointment.rs patient/AdverseEvent.crs patient/Location.rs';
export const SIGNUP_CLIENT_ID = 'vaxhub-signup';
/** The sign-up app signs a person in only to see, move or cancel their own appointments. */
export const SIGNUP_CLIENT_SCOPE =
  'launch/patient openid fhirUser patient/Patient.r patient/Appointment.rus patient/Location.rs patient/ImmunizationRecommendation.rs';

export const ADMIN_CLIENT_ID = 'vaxhub-admin';
/**
 * The operator console signs a staff member in (standalone launch, `user/` scopes) and asks for the hub's operator
 * scope, which the hub grants only to an active staff account whose role holds it (src/auth/staff.ts). Reading
 * their own Practitioner shows who is signed in.
 */
export const ADMIN_CLIENT_SCOPE = 'openid fhirUser vaxhub/operator user/Practitioner.r';

/** Extra settings an app reads from its config.json, beside the FHIR base URL. */
export type AppConfigExtras = (app: string) => Promise<Record<string, unknown>>;

/**
 * Content-Security-Policy per app: scripts and styles only from the hub; the wallet talks only to its hub,
 * the link viewer to whichever issuer a link points at (links and cards can come from any hub).
 */
function securityHeaders(app: string) {
  const connect = app === 'shl' ? '*' : "'self'";
  const csp = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob: data:",
    `connect-src ${connect}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; ');
  return (res: Response): void => {
    res.set('Content-Security-Policy', csp);
    res.set('X-Content-Type-Options', 'nosniff');
    // SHL keys live in the URL fragment (never sent), but referrers could still leak paths and queries.
    res.set('Referrer-Policy', 'no-referrer');
    res.set('Cache-Control', 'no-cache');
  };
}

/** Builds the bundles when needed. Returns false when no usable build exists. */
export async function ensureAppsBuilt(hub: Pick<Hub, 'logger'>, outDir = DEFAULT_OUT_DIR): Promise<boolean> {
  if (isBuildFresh(outDir)) return true;
  const started = Date.now();
  try {
    await buildApps({ outDir });
    hub.logger.info({ ms: Date.now() - started }, 'smart-apps built');
    return true;
  } catch (e) {
    const usable = Object.keys(APPS).every((a) => fs.existsSync(path.join(outDir, a, 'index.html')));
    hub.logger.error({ err: e }, usable ? 'smart-apps rebuild failed; serving the previous build' : 'smart-apps build failed; /apps is unavailable');
    return usable;
  }
}

/** The /apps router: each app's files, its config.json, and `/apps/<name>` -> `/apps/<name>/`. */
export function createAppsRouter(opts: { fhirBaseUrl: string; outDir?: string; available: boolean; extras?: AppConfigExtras }): Router {
  const router = express.Router();
  const outDir = opts.outDir ?? DEFAULT_OUT_DIR;
  for (const name of Object.keys(APPS)) {
    const headers = securityHeaders(name);
    router.get(`/apps/${name}`, (req, res, next) => {
      if (req.path !== `/apps/${name}`) return next(); // Express matches the trailing-slash form here too
      const q = req.originalUrl.indexOf('?');
      res.redirect(301, `/apps/${name}/${q >= 0 ? req.originalUrl.slice(q) : ''}`);
    });
    router.get(`/apps/${name}/config.json`, (_req, res, next) => {
      headers(res);
      const clientId = { wallet: WALLET_CLIENT_ID, signup: SIGNUP_CLIENT_ID, admin: ADMIN_CLIENT_ID }[name];
      (opts.extras ? opts.extras(name) : Promise.resolve({})).then(
        (extra) => res.json({ fhirBaseUrl: opts.fhirBaseUrl, ...(clientId ? { clientId } : {}), ...extra }),
        next,
      );
    });
    if (!opts.available) {
      router.use(`/apps/${name}`, (_req, res) => {
        res.status(503).type('text/plain').send('The apps are not built. Run: npx tsx smart-apps/build.ts');
      });
      continue;
    }
    router.use(
      `/apps/${name}`,
      express.static(path.join(outDir, name), { index: 'index.html', redirect: false, dotfiles: 'ignore', setHeaders: (res) => headers(res) }),
    );
  }
  return router;
}

/** Registers (idempotently) one app's public client: PKCE, redirect back to the app, the hub as its origin. */
async function registerAppClient(hub: Pick<Hub, 'config' | 'db' | 'logger'>, app: string, id: string, name: string, scope: string): Promise<void> {
  const { baseUrl } = hub.config;
  try {
    await registerClient(hub.db, { id, name, type: 'public', scope, redirectUris: [`${baseUrl}/apps/${app}/`], allowedOrigins: [new URL(baseUrl).origin] });
  } catch (e) {
    // e.g. a plain-http BASE_URL that is not loopback: the hub still runs, the app cannot sign in.
    if (!(e instanceof ClientRegistrationError)) throw e;
    hub.logger.warn({ reason: e.message }, `the ${app} client was not registered; sign-in from /apps/${app} will fail`);
  }
}

/** Registers (idempotently) the wallet's public client. */
export async function registerWalletClient(hub: Pick<Hub, 'config' | 'db' | 'logger'>): Promise<void> {
  await registerAppClient(hub, 'wallet', WALLET_CLIENT_ID, 'vaxhub Wallet', WALLET_CLIENT_SCOPE);
}

/** Registers (idempotently) the sign-up app's public client (sign-in to see, move or cancel appointments). */
export async function registerSignupClient(hub: Pick<Hub, 'config' | 'db' | 'logger'>): Promise<void> {
  await registerAppClient(hub, 'signup', SIGNUP_CLIENT_ID, 'vaxhub Sign-up', SIGNUP_CLIENT_SCOPE);
}

/** What the apps need to know of the hub's other settings. */
export interface AppsOptions {
  /** The hub mails people when the waiting room admits them (opening night's WAITING_ROOM_NOTIFY_ADMISSION). */
  notifyOnAdmission?: boolean;
}

/** Registers (idempotently) the admin console's public client (staff sign-in with operator authority). */
export async function registerAdminClient(hub: Pick<Hub, 'config' | 'db' | 'logger'>): Promise<void> {
  await registerAppClient(hub, 'admin', ADMIN_CLIENT_ID, 'vaxhub operator console', ADMIN_CLIENT_SCOPE);
}

/**
 * The config.json extras: the sign-up app learns the waiting-room event, product facts and answer codes; the
 * public apps learn the hub's time zone (HUB_TIME_ZONE), in which they write times of a clinic whose Location
 * names none and of invitations and windows, as the mails do.
 */
export function appConfigExtras(hub: Pick<Hub, 'db'> & { config?: { timeZone?: string } }, opts: AppsOptions = {}): AppConfigExtras {
  const products = loadProducts();
  const rules = loadTierRules();
  const zone = hub.config?.timeZone ? { timeZone: hub.config.timeZone } : {};
  return async (app) => {
    if (app === 'signup') return { ...(await signupConfig(hub.db, products, rules, opts)), ...zone };
    return app === 'wallet' ? zone : {};
  };
}

/** Everything /apps needs, as one router (used by wireApps and by tests that mount it in front of a hub). */
export async function appsRouterFor(hub: Hub, registry: Pick<ModuleRegistry, 'authenticate'>, opts: AppsOptions = {}): Promise<Router> {
  const available = await ensureAppsBuilt(hub);
  await registerWalletClient(hub);
  await registerSignupClient(hub);
  await registerAdminClient(hub);
  const router = express.Router();
  router.use(createAppSupportRouter({ db: hub.db, repo: hub.repo, products: loadProducts(), requireAdmin: requireAdmin(registry, (e) => hub.audit(e)) }));
  router.use(createAppsRouter({ fhirBaseUrl: hub.config.fhirBaseUrl, available, extras: appConfigExtras(hub, opts) }));
  return router;
}

export async function wireApps(hub: Hub, registry: ModuleRegistry, opts: AppsOptions = {}): Promise<void> {
  hub.app.use(await appsRouterFor(hub, registry, opts));
}
