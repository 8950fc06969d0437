/**
 * Plugs opening night into the hub (call after wireScheduling): the waiting room (with load shedding), sign-up
 * and invitation routes, operator routes for draws, cohort windows and events, the public draw audit view,
 * `/metrics`, and the booking gate on every path to a booking: the HTTP admission gate in front of `/fhir`
 * booking requests, gated `$hold`/`$book`, and an Appointment write interceptor for POST/PUT; and, when
 * WAITING_ROOM_NOTIFY_ADMISSION is on, the sweep that mails people when they are admitted.
 */
import type { Router } from 'express';
import type { Hub } from '../app.js';
import { requireAdmin } from '../http/admin-guard.js';
import type { ModuleRegistry } from '../wiring-types.js';
import { loadTierRules } from './eligibility/rules.js';
import { AbuseAccounting } from './invitations/abuse.js';
import { loadEquityIndex } from './invitations/draws.js';
import { createOpeningNightAdminRouter } from './opening-night/admin-router.js';
import { ActiveEvent, createAdmissionCheck, createAdmissionGate } from './opening-night/admission-gate.js';
import { BookingGate } from './opening-night/booking-gate.js';
import { loadOpeningNightConfig, type OpeningNightConfig } from './opening-night/config.js';
import { bookingGateInterceptor, gateBookingOperations } from './opening-night/fhir-gate.js';
import { createMetricsRouter } from './opening-night/metrics-route.js';
import { createSignupRouter } from './opening-night/signup-router.js';
import { createAssistantRouter } from './assistant/router.js';
import { forecasterOfHub } from '../forecast/wiring.js';
import { loadProducts } from './products.js';
import { admissionMailRenderers } from './opening-night/mail-renderers.js';
import type { OutboxRenderer } from '../notify/worker.js';
import { AdmissionNotices } from './waiting-room/admission-notices.js';
import { WaitingRoom } from './waiting-room/room.js';
import { createWaitingRoomRouter } from './waiting-room/router.js';
import { createJoinGate, JoinAdmission } from './waiting-room/join-gate.js';
import { LoadShedder } from './waiting-room/shedding.js';

export interface OpeningNightWiring {
  config: OpeningNightConfig;
  room: WaitingRoom;
  gate: BookingGate;
  shedder: LoadShedder;
  /** The waiting room's front door in this process (joins in flight, the limit). */
  joins: JoinAdmission;
  /** Renderers for the outbox rows opening night writes as kind + payload (the admission mail). */
  mailRenderers: Record<string, OutboxRenderer>;
  /** The admission-mail sweep (running when config.notifyOnAdmission). */
  notices: AdmissionNotices;
}

export interface OpeningNightOptions {
  /** Settings instead of the environment's (tests). */
  config?: Partial<OpeningNightConfig>;
  /** Mount on this router instead of hub.app (tests that add opening night in front of an existing hub). */
  mountOn?: Router;
}

export function wireOpeningNight(hub: Hub, registry: ModuleRegistry, opts: OpeningNightOptions = {}): OpeningNightWiring {
  const config = { ...loadOpeningNightConfig(hub.config.baseUrl, process.env, { smtpConfigured: !!(hub.config.smtpUrl || hub.config.mailDir) }), ...opts.config };
  const app = opts.mountOn ?? hub.app;
  const { db, repo } = hub;
  const rules = loadTierRules();
  const abuse = new AbuseAccounting(db, config.abuse, (msg, data) => hub.logger.warn(data, msg));
  const gate = new BookingGate({ enabled: !hub.config.devOpenAccess, rules, abuse, audit: (e) => hub.audit(e) });
  const room = new WaitingRoom(db, { notifyOnAdmission: config.notifyOnAdmission });
  const shedder = new LoadShedder(config.shedding);
  hub.onClose(() => shedder.close());
  // "We will email you when it is your turn": a sweep queues one outbox mail per newly admitted place. Admission
  // never waits for it; it only finds the places admitted since its last round.
  const notices = new AdmissionNotices(db, { onError: (e) => hub.logger.warn({ err: e }, 'admission-mail sweep failed') });
  if (config.notifyOnAdmission) {
    notices.start(config.noticeSweepMs);
    hub.onClose(() => notices.stop());
  }
  const active = new ActiveEvent(db, config.eventCacheMs);
  const operatorOnly = requireAdmin(registry, (e) => hub.audit(e));

  // In-flight accounting first, so shedding sees every request that reaches opening night's routes.
  app.use(shedder.track);
  // Joins are let in or refused at the http listener, before Express (join-gate.ts says why). The shedder is asked
  // there only for its bound on requests in flight: its event-loop verdict refuses every join for as long as the
  // loop is late, which under overload was the collapse itself (bench: 10,482 joins refused that way in a run where
  // the door let joins through at its floor); the door follows the loop's delay and keeps a floor of joins moving.
  const joins = new JoinAdmission(config.joinGate);
  hub.onClose(() => joins.close());
  hub.fastPaths.unshift(createJoinGate({ admission: joins, overloaded: () => shedder.tooManyInFlight() }));
  app.use(
    createWaitingRoomRouter({
      room,
      abuse,
      isAdmin: async (req) => (await registry.authenticate(req)).kind === 'admin',
      limits: { joinPerIpPerMinute: config.limits.joinPerIp, statusPerIpPerMinute: config.limits.statusPerIp, joinPerRegistrantPerMinute: config.limits.joinPerRegistrant },
      secureCookies: hub.config.baseUrl.startsWith('https:'),
    }),
  );
  const smsAddressTemplate = hub.config.smsEmailGateway;
  app.use(createSignupRouter({ db, repo, rules, policy: config.ticketPolicy, abuse, limits: config.limits, ...(smsAddressTemplate ? { smsAddressTemplate } : {}) }));
  // The next dose by CDSi when wireForecast loaded the engine (it runs first, src/modules.ts), else the product rule.
  app.use(createAssistantRouter({ db, repo, rules, products: loadProducts(), perIpPerMinute: config.limits.signupPerIp * 4, forecaster: forecasterOfHub(hub), timeZone: hub.config.timeZone }));
  app.use(
    createOpeningNightAdminRouter({
      db, rules, equity: loadEquityIndex(), policy: config.ticketPolicy, signupBaseUrl: config.signupBaseUrl, timeZone: hub.config.timeZone,
      ...(smsAddressTemplate ? { smsAddressTemplate } : {}),
      requireAdmin: operatorOnly, active, invalidateEvent: (id) => room.invalidate(id),
    }),
  );
  app.use(createMetricsRouter({ db, isPublic: config.metricsPublic, requireAdmin: operatorOnly }));

  // The booking gate: before the FHIR router over HTTP, and inside the FHIR layer for every other path.
  const admission = createAdmissionCheck({ db, registry, gate, room, active, bookingPerTicketPerMinute: config.limits.bookingPerTicket });
  app.use('/fhir', createAdmissionGate(admission));
  // The same check for bookings the fast POST lane takes before Express (src/http/fast-post.ts).
  hub.fastPostChecks.push((input) => admission.admit(input));
  gateBookingOperations(hub.fhir.operations, gate);
  registry.addInterceptor(bookingGateInterceptor(gate, repo));
  if (!gate.enabled) hub.logger.warn('devOpenAccess: the booking gate is off (test hubs only)');
  return { config, room, gate, shedder, joins, notices, mailRenderers: admissionMailRenderers({ db, signupBaseUrl: config.signupBaseUrl, timeZone: hub.config.timeZone }) };
}
