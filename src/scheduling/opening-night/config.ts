/**
 * Opening-night settings from the environment (typed and validated; a bad value names itself). Kept beside the
 * capability until the hub's one config loader (src/config) absorbs them.
 */
import { ConfigError, envInt } from '../../config/config.js';
import { DEFAULT_ABUSE_CONFIG, type AbuseConfig } from '../invitations/abuse.js';
import { DEFAULT_TICKET_POLICY, type TicketPolicy } from '../invitations/tickets.js';
import { DEFAULT_JOIN_GATE, type JoinGateOptions } from '../waiting-room/join-gate.js';
import type { LoadShedderOptions } from '../waiting-room/shedding.js';

export interface OpeningNightConfig {
  /** `/metrics` without operator credentials (METRICS_PUBLIC=true); internal by default. */
  metricsPublic: boolean;
  /** Base of the sign-up pages; invitation links are `<base>/invitation/<ticket>`. */
  signupBaseUrl: string;
  ticketPolicy: TicketPolicy;
  abuse: AbuseConfig;
  shedding: LoadShedderOptions;
  /**
   * The waiting room's front door (join-gate.ts): joins let in at once per process, between
   * WAITING_ROOM_JOIN_MIN_IN_FLIGHT and WAITING_ROOM_JOIN_MAX_IN_FLIGHT, narrowed while the event loop runs later
   * than WAITING_ROOM_JOIN_LAG_TARGET_MS or a join takes longer than WAITING_ROOM_JOIN_TARGET_MS; more are refused
   * with a 429 before any work.
   */
  joinGate: JoinGateOptions;
  /** Per-minute limits (token buckets; bursts of ten seconds' worth). */
  limits: {
    joinPerIp: number;
    statusPerIp: number;
    joinPerRegistrant: number;
    signupPerIp: number;
    claimPerIp: number;
    bookingPerTicket: number;
  };
  /** How long the active-event lookup of the booking gate is cached. */
  eventCacheMs: number;
  /**
   * Mail people when the waiting room admits them (WAITING_ROOM_NOTIFY_ADMISSION), so the page may tell them they
   * can leave. On by default when the hub can send mail (SMTP_URL); `true` without SMTP_URL is refused, since the
   * page would promise mail that never leaves the outbox.
   */
  notifyOnAdmission: boolean;
  /** How often each hub process looks for newly admitted places to mail (WAITING_ROOM_NOTICE_SWEEP_MS). */
  noticeSweepMs: number;
}


function bool(env: NodeJS.ProcessEnv, name: string, def: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (raw !== 'true' && raw !== 'false') throw new ConfigError(`${name} must be true or false, got '${raw}'`);
  return raw === 'true';
}

function joinGateOf(env: NodeJS.ProcessEnv): JoinGateOptions {
  const minInFlight = envInt(env, 'WAITING_ROOM_JOIN_MIN_IN_FLIGHT', DEFAULT_JOIN_GATE.minInFlight, 1, 100_000);
  const maxInFlight = envInt(env, 'WAITING_ROOM_JOIN_MAX_IN_FLIGHT', Math.max(minInFlight, DEFAULT_JOIN_GATE.maxInFlight), 1, 100_000);
  if (maxInFlight < minInFlight) throw new ConfigError(`WAITING_ROOM_JOIN_MAX_IN_FLIGHT (${maxInFlight}) must not be below WAITING_ROOM_JOIN_MIN_IN_FLIGHT (${minInFlight})`);
  return {
    minInFlight,
    maxInFlight,
    targetMs: envInt(env, 'WAITING_ROOM_JOIN_TARGET_MS', DEFAULT_JOIN_GATE.targetMs, 1, 60_000),
    lagTargetMs: envInt(env, 'WAITING_ROOM_JOIN_LAG_TARGET_MS', DEFAULT_JOIN_GATE.lagTargetMs, 1, 60_000),
  };
}

export function loadOpeningNightConfig(baseUrl: string, env: NodeJS.ProcessEnv = process.env, mail: { smtpConfigured: boolean } = { smtpConfigured: false }): OpeningNightConfig {
  const notifyOnAdmission = bool(env, 'WAITING_ROOM_NOTIFY_ADMISSION', mail.smtpConfigured);
  if (notifyOnAdmission && !mail.smtpConfigured) {
    throw new ConfigError('WAITING_ROOM_NOTIFY_ADMISSION=true needs SMTP_URL: without it the waiting room would promise mail that is never sent');
  }
  const secondFactor = env.TICKET_SECOND_FACTOR ?? DEFAULT_TICKET_POLICY.secondFactor;
  if (secondFactor !== 'code' && secondFactor !== 'dob+code') throw new ConfigError(`TICKET_SECOND_FACTOR must be code or dob+code, got '${secondFactor}'`);
  const processes = envInt(env, 'HUB_NODES', 1, 1, 10_000) * envInt(env, 'VAXHUB_PROCESSES_PER_NODE', 1, 1, 64);
  const share = (perMinute: number): number => Math.max(1, Math.ceil(perMinute / processes));
  return {
    metricsPublic: bool(env, 'METRICS_PUBLIC', false),
    signupBaseUrl: (env.SIGNUP_BASE_URL || `${baseUrl}/signup`).replace(/\/+$/, ''),
    ticketPolicy: {
      ...DEFAULT_TICKET_POLICY,
      ticketTtlHours: envInt(env, 'TICKET_TTL_HOURS', DEFAULT_TICKET_POLICY.ticketTtlHours, 1, 24 * 30),
      secondFactor,
    },
    abuse: {
      alertPerMinute: envInt(env, 'ABUSE_ALERT_PER_MINUTE', DEFAULT_ABUSE_CONFIG.alertPerMinute, 1, 10_000_000),
      spikePerMinute: envInt(env, 'ABUSE_SPIKE_PER_MINUTE', DEFAULT_ABUSE_CONFIG.spikePerMinute, 1, 10_000_000),
    },
    shedding: {
      maxInFlight: envInt(env, 'SHED_MAX_IN_FLIGHT', 2000, 1, 1_000_000),
      maxEventLoopDelayMs: envInt(env, 'SHED_MAX_EVENT_LOOP_DELAY_MS', 200, 1, 60_000),
      retryAfterSeconds: envInt(env, 'SHED_RETRY_AFTER_SECONDS', 10, 1, 3600),
    },
    joinGate: joinGateOf(env),
    // The limits are for the whole deployment; each of HUB_NODES nodes (x its workers) enforces its share, which a
    // round-robin balancer makes the whole limit for a client (README: Several hub nodes).
    limits: {
      joinPerIp: share(envInt(env, 'WAITING_ROOM_JOIN_PER_IP_PER_MINUTE', 30, 1, 10_000_000)),
      statusPerIp: share(envInt(env, 'WAITING_ROOM_STATUS_PER_IP_PER_MINUTE', 600, 1, 10_000_000)),
      joinPerRegistrant: share(envInt(env, 'WAITING_ROOM_JOIN_PER_REGISTRANT_PER_MINUTE', 10, 1, 10_000_000)),
      signupPerIp: share(envInt(env, 'SIGNUP_PER_IP_PER_MINUTE', 30, 1, 10_000_000)),
      claimPerIp: share(envInt(env, 'CLAIM_PER_IP_PER_MINUTE', 30, 1, 10_000_000)),
      bookingPerTicket: share(envInt(env, 'BOOKING_PER_TICKET_PER_MINUTE', 30, 1, 10_000_000)),
    },
    eventCacheMs: envInt(env, 'WAITING_ROOM_EVENT_CACHE_MS', 1000, 0, 60_000),
    notifyOnAdmission,
    noticeSweepMs: envInt(env, 'WAITING_ROOM_NOTICE_SWEEP_MS', 5000, 50, 600_000),
  };
}
