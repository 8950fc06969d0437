/**
 * Wires the capability modules into the hub. Each capability exports one `wireX(hub, registry)` from its
 * own folder's wiring.ts; this is the only file that knows all of them.
 */
import proxyaddr from 'proxy-addr';
import type { ServerResponse } from 'node:http';
import type { Hub } from './app.js';
import type { ModuleRegistry } from './wiring-types.js';
import { OutboxWorker, createSmtpTransport, type OutboxRenderer } from './notify/worker.js';
import { warmUp } from './fhir/validation/index.js';
import { SUPPORTED_RESOURCE_TYPES } from './fhir/resource-types.js';
import { wireAuth } from './auth/wiring.js';
import { wireHealthCards } from './credentials/wiring.js';
import { wireIis } from './sync/iis/wiring.js';
import { wireRecords } from './records/wiring.js';
import { wireSafety } from './safety/wiring.js';
import { wireFollowups } from './safety/followup/wiring.js';
import { wireOutcomes } from './outcomes/wiring.js';
import { wireSync } from './sync/wiring.js';
import { wireApps } from './apps/wiring.js';
import { wireScheduling } from './scheduling/wiring.js';
import { wireClinic } from './clinic/wiring.js';
import { wireForecast } from './forecast/wiring.js';
import { wireOpeningNight } from './scheduling/opening-night-wiring.js';
import { wireFrontDesk } from './front-desk/wiring.js';
import { schedulingMailRenderers } from './scheduling/opening-night/mail-renderers.js';
import { createFastStatus } from './scheduling/opening-night/fast-status.js';
import { loadProducts } from './scheduling/products.js';
import { createMailDirTransport } from './notify/mail-dir.js';
import { createHttpSmsTransport } from './notify/sms.js';

export type { ModuleRegistry } from './wiring-types.js';

export interface Wiring {
  /** Runs after /fhir is mounted (for routes that must come after it). */
  afterFhir?: () => void;
  /** In-flight accounting for answers made before Express (load shedding sees every request). */
  trackResponse?: (res: ServerResponse) => void;
}

/** The outbox worker, with the renderers of every kind that modules write as kind + payload only. */
function wireMail(hub: Hub, renderers: Record<string, OutboxRenderer>): void {
  const { smtpUrl, mailDir } = hub.config;
  if (!smtpUrl && !mailDir) {
    hub.logger.warn('SMTP_URL is not set: mail (sign-in codes, invitations) stays queued in the outbox until it is (or set MAIL_DIR to catch it in files while developing)');
    return;
  }
  if (!smtpUrl) hub.logger.warn({ mailDir }, 'MAIL_DIR: outgoing mail is written to files (development only)');
  const worker = new OutboxWorker({
    db: hub.db,
    transport: smtpUrl ? createSmtpTransport(smtpUrl) : createMailDirTransport(mailDir!),
    from: hub.config.mailFrom,
    rates: hub.config.mailRates,
    renderers: { ...schedulingMailRenderers({ repo: hub.repo, products: loadProducts(), timeZone: hub.config.timeZone }), ...renderers },
    // Texts addressed sms:+<digits> go to the HTTP SMS gateway when one is configured (src/notify/sms.ts).
    ...(hub.config.smsHttp ? { sms: createHttpSmsTransport(hub.config.smsHttp) } : {}),
    logger: hub.logger,
  });
  worker.start(1000);
  hub.onClose(() => worker.stop());
}

export async function registerModules(hub: Hub, registry: ModuleRegistry): Promise<Wiring> {
  hub.app.use('/fhir', (req, res, next) => {
    // SMART: any origin may read discovery documents and the CapabilityStatement.
    if (req.path === '/metadata' || req.path.startsWith('/.well-known/')) res.set('Access-Control-Allow-Origin', '*');
    next();
  });
  warmUp(SUPPORTED_RESOURCE_TYPES);
  wireAuth(hub, registry);
  wireHealthCards(hub, registry);
  wireRecords(hub, registry);
  wireSafety(hub, registry);
  wireOutcomes(hub, registry);
  // Before scheduling: booking and the stored recommendation follow the CDSi engine when it is configured.
  const forecaster = await wireForecast(hub, registry);
  wireScheduling(hub, registry, forecaster);
  // After scheduling: it wraps $hold/$book with the booking gate (invitation, window, waiting room).
  const night = wireOpeningNight(hub, registry);
  // Follow-up check-ins after a dose: staff's answer at $record-dose reaches them through the clinic's dose hook.
  const followups = wireFollowups(hub, registry);
  const clinicMail = wireClinic(hub, registry, { doseRecordedHooks: [followups.doseRecordedHook] });
  wireMail(hub, { ...night.mailRenderers, ...clinicMail });
  wireFrontDesk(hub, registry);
  // /waiting-room/status is answered before Express: it is polled by everyone waiting.
  const trustProxy = hub.app.get('trust proxy fn') as (addr: string, i: number) => boolean;
  hub.fastPaths.push(createFastStatus({ room: night.room, statusPerIpPerMinute: night.config.limits.statusPerIp, clientIp: (req) => proxyaddr(req, trustProxy) }));
  wireIis(hub, registry);
  wireSync(hub, registry);
  await wireApps(hub, registry, { notifyOnAdmission: night.config.notifyOnAdmission });
  return { trackResponse: (res) => night.shedder.trackResponse(res) };
}
