/**
 * One loader: environment -> typed, validated config. No default secrets: secrets are generated into
 * the database on first start by the modules that need them.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_MAIL_RATES, type MailRates } from '../notify/priority.js';
import { isTimeZone } from '../notify/mail-locale.js';
import { SMS_ADDRESS_TEMPLATE, type SmsHttpConfig } from '../notify/sms.js';
import { DEFAULT_FOLLOWUP_STEPS, parseFollowupSteps, type FollowupStep } from '../safety/followup/steps.js';

export interface Config {
  port: number;
  host: string;
  /** Public base URL of the hub, no trailing slash (also the SMART Health Card `iss`). */
  baseUrl: string;
  /** `${baseUrl}/fhir` */
  fhirBaseUrl: string;
  databaseUrl?: string;
  dataDir: string;
  logLevel: string;
  maxBodyBytes: number;
  /** Bearer secret for the admin API; the admin API is off when unset. */
  adminToken?: string;
  /** Seed a small demo data set into an empty database on start. */
  seedDemo: boolean;
  /** Drain time for graceful shutdown. */
  shutdownGraceMs: number;
  /** SHUTDOWN_DRAIN_NOTICE_MS: on SIGTERM, /readyz answers 503 this long before the hub stops accepting connections. */
  shutdownDrainNoticeMs?: number;
  smtpUrl?: string;
  /** Development only: with no SMTP_URL, outgoing mail is written here as .eml files (src/notify/mail-dir.ts). */
  mailDir?: string;
  mailFrom: string;
  /** IANA zone for times in public mail where a clinic's Location names none (HUB_TIME_ZONE, default UTC). */
  timeZone: string;
  /** Outbox send rates per priority class, mails/s per hub process (MAIL_RATE_URGENT, _TRANSACTIONAL, _BULK). */
  mailRates: MailRates;
  /**
   * Where texts are addressed (sign-in codes by phone, SMS confirmations, closure notices, follow-ups): an
   * email-to-SMS gateway's address template (SMS_EMAIL_GATEWAY, `{number}` = digits), or `sms:+{number}` when the
   * HTTP SMS gateway is configured (SMS_HTTP_URL, src/notify/sms.ts). Texting (and phone sign-in) is off when unset.
   */
  smsEmailGateway?: string;
  /** The HTTP SMS gateway (SMS_HTTP_URL, SMS_HTTP_FROM, SMS_HTTP_USER + SMS_HTTP_PASSWORD or SMS_HTTP_TOKEN). */
  smsHttp?: SmsHttpConfig;
  /**
   * Tests of FHIR mechanics only: skip SMART access control. Never read from the environment,
   * so no deployment can switch it on.
   */
  devOpenAccess?: boolean;
  /** Idle wait of the IIS outbox worker between polls (IIS_POLL_MS); the worker's own default when unset. */
  iisPollMs?: number;
  /** Port of the MLLP listener EHRs send VXU/QBP to (IIS_INBOUND_MLLP_PORT, `serve --iis-mllp-port`); off when unset. */
  iisInboundMllpPort?: number;
  /** Path of the CDC SOAP web service EHRs send to on the HTTP server (IIS_INBOUND_SOAP_PATH, `serve --iis-soap-path`); `off` turns it off. */
  iisInboundSoapPath?: string;
  /**
   * Directory holding CDC's CDSi supporting data (ScheduleSupportingData.xml and the AntigenSupportingData XML
   * files, CDSI_DATA_DIR); forecasts use the CDSi engine when set, the product-catalogue next-dose rule otherwise.
   */
  cdsiDataDir?: string;
  /** Minutes after a slot's start before a booked person not checked in is marked no-show (NO_SHOW_GRACE_MINUTES, default 60; 0 turns the sweep off). */
  noShowGraceMinutes: number;
  /** How often the no-show sweep runs (NO_SHOW_SWEEP_MS, default one minute). */
  noShowSweepMs: number;
  /**
   * Hours a place held after a clinic closure waits for the person's answer before it goes back to everyone
   * (CLOSURE_OFFER_HOURS, default 72, 1 to 336; a closure may give its own).
   */
  closureOfferHours: number;
  /** Follow-up check-ins after a dose, offsets from the dose (FOLLOWUP_STEPS, default `1d,7d,6w`; src/safety/followup/steps.ts). */
  followupSteps: FollowupStep[];
  /** How often due follow-ups are put in the mail outbox (FOLLOWUP_SWEEP_MS, default one minute). */
  followupSweepMs: number;
  /** Several hub nodes on one PostgreSQL (README: Several hub nodes). */
  cluster: ClusterConfig;
}

export interface ClusterConfig {
  /** HUB_NODES: hub nodes (machines or containers) sharing the database; with `--workers`, each runs that many processes. */
  nodes: number;
  /** Set when HUB_NODES was given: the connection budget is then derived from the server's max_connections. */
  nodesGiven: boolean;
  /** Hub processes on this node (`serve --workers`); 1 otherwise. */
  processesPerNode: number;
  /** DATABASE_POOL_MAX: the pool size per hub process, as given (else derived, or 20 on a single node). */
  poolMax?: number;
  /** DATABASE_RESERVED_CONNECTIONS: connections of max_connections kept for migrations, psql, backups, monitoring. */
  reservedConnections: number;
  /** DATABASE_READ_URL: streaming replicas for searches, reads, Bulk export and the waiting-room status (comma-separated). */
  readUrls: string[];
  /** DATABASE_READ_MAX_LAG_MS: a replica further behind the primary than this is not read; the primary answers. */
  readMaxLagMs: number;
  /** TRUST_PROXY: whose X-Forwarded-For the client address is read from (Express `trust proxy`: loopback, CIDRs, names). */
  trustProxy: string[];
}

/** TRUST_PROXY: comma-separated addresses, CIDR ranges, or proxy-addr's names (loopback, linklocal, uniquelocal). */
function trustProxyOf(raw: string | undefined): string[] {
  if (!raw) return ['loopback'];
  const parts = raw.split(',').map((p) => p.trim()).filter(Boolean);
  for (const p of parts) {
    if (!/^(loopback|linklocal|uniquelocal|[0-9a-fA-F:.]+(\/\d{1,3})?)$/.test(p)) {
      throw new ConfigError(`TRUST_PROXY must list addresses, CIDR ranges or loopback/linklocal/uniquelocal, got '${p}'`);
    }
  }
  return parts;
}

function clusterOf(env: NodeJS.ProcessEnv): ClusterConfig {
  const readUrls = (env.DATABASE_READ_URL ?? '').split(',').map((u) => u.trim()).filter(Boolean);
  for (const u of readUrls) {
    if (!/^postgres(ql)?:\/\//.test(u)) throw new ConfigError(`DATABASE_READ_URL must be postgres:// URLs separated by commas, got '${u}'`);
  }
  if (readUrls.length && !env.DATABASE_URL) throw new ConfigError('DATABASE_READ_URL needs DATABASE_URL (the primary): replicas are read-only');
  return {
    nodes: envInt(env, 'HUB_NODES', 1, 1, 10_000),
    nodesGiven: Boolean(env.HUB_NODES),
    processesPerNode: envInt(env, 'VAXHUB_PROCESSES_PER_NODE', 1, 1, 64),
    poolMax: env.DATABASE_POOL_MAX ? envInt(env, 'DATABASE_POOL_MAX', 20, 1, 10_000) : undefined,
    reservedConnections: envInt(env, 'DATABASE_RESERVED_CONNECTIONS', 10, 0, 10_000),
    readUrls,
    readMaxLagMs: envInt(env, 'DATABASE_READ_MAX_LAG_MS', 1000, 1, 600_000),
    trustProxy: trustProxyOf(env.TRUST_PROXY),
  };
}

/** HUB_TIME_ZONE: an IANA zone such as America/Chicago; a name the runtime does not know stops the start. */
function followupSteps(raw: string | undefined): FollowupStep[] {
  try {
    return parseFollowupSteps(raw?.trim() ? raw : DEFAULT_FOLLOWUP_STEPS);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
}

function hubTimeZone(raw: string | undefined): string {
  if (!raw) return 'UTC';
  if (!isTimeZone(raw)) throw new ConfigError(`HUB_TIME_ZONE must be an IANA time zone such as America/Chicago, got '${raw}'`);
  return raw;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** An integer setting from the environment: the default when unset, a ConfigError naming it when out of range. */
export function envInt(env: NodeJS.ProcessEnv, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got '${raw}'`);
  return n;
}

/** MAIL_DIR: a directory for outgoing mail files, refused for a public (https) hub: the files hold sign-in codes. */
function mailDir(raw: string | undefined, baseUrl: string): string | undefined {
  if (!raw) return undefined;
  if (baseUrl.startsWith('https:')) throw new ConfigError('MAIL_DIR is for development only (the files hold sign-in codes and invitation links); it is refused when BASE_URL is https: set SMTP_URL');
  return path.resolve(raw);
}

/** The SOAP service path: `/iis/soap` unless set; `off` (or empty) turns the service off. */
function soapPath(raw: string | undefined): string | undefined {
  if (raw === undefined) return '/iis/soap';
  if (raw === '' || raw === 'off') return undefined;
  if (!/^\/[A-Za-z0-9._~/-]*$/.test(raw) || raw.startsWith('/fhir')) throw new ConfigError(`IIS_INBOUND_SOAP_PATH must be a path such as /iis/soap (not under /fhir), got '${raw}'`);
  return raw.replace(/\/+$/, '') || '/';
}

/** CDSI_DATA_DIR: must name a directory with ScheduleSupportingData.xml, checked at start so a typo does not silently fall back. */
function cdsiDataDir(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  const dir = path.resolve(raw);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    throw new ConfigError(`CDSI_DATA_DIR must be a directory holding CDC's CDSi supporting data, got '${raw}' (not readable)`);
  }
  if (!names.some((n) => /^schedulesupportingdata.*\.xml$/i.test(n)) || !names.some((n) => /^antigensupportingdata.*\.xml$/i.test(n))) {
    throw new ConfigError(`CDSI_DATA_DIR '${raw}' holds no ScheduleSupportingData.xml and AntigenSupportingData XML files (download them from https://www.cdc.gov/iis/cdsi/)`);
  }
  return dir;
}

/** The HTTP SMS gateway from SMS_HTTP_*; a clear message for each missing or bad part. No default credential. */
function smsHttpOf(env: NodeJS.ProcessEnv): SmsHttpConfig | undefined {
  const url = env.SMS_HTTP_URL || undefined;
  const others = ['SMS_HTTP_FROM', 'SMS_HTTP_USER', 'SMS_HTTP_PASSWORD', 'SMS_HTTP_TOKEN'].filter((k) => env[k]);
  if (!url) {
    if (others.length) throw new ConfigError(`${others.join(', ')} ${others.length === 1 ? 'is' : 'are'} set but SMS_HTTP_URL (the gateway's messages endpoint) is not`);
    return undefined;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`SMS_HTTP_URL must be an absolute http(s) URL, got '${url}'`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new ConfigError(`SMS_HTTP_URL must be an http(s) URL, got '${url}'`);
  const from = env.SMS_HTTP_FROM;
  if (!from) throw new ConfigError('SMS_HTTP_FROM (the sender number, e.g. +15017122661, or sender id) is required with SMS_HTTP_URL');
  if (env.SMS_HTTP_TOKEN && env.SMS_HTTP_USER) throw new ConfigError('Set SMS_HTTP_USER and SMS_HTTP_PASSWORD (Basic auth) or SMS_HTTP_TOKEN (bearer), not both');
  if (env.SMS_HTTP_USER && !env.SMS_HTTP_PASSWORD) throw new ConfigError('SMS_HTTP_PASSWORD is required with SMS_HTTP_USER');
  if (!env.SMS_HTTP_USER && !env.SMS_HTTP_TOKEN) throw new ConfigError('The SMS gateway needs credentials: SMS_HTTP_USER and SMS_HTTP_PASSWORD (Twilio: Account SID and auth token) or SMS_HTTP_TOKEN');
  return {
    url, from,
    ...(env.SMS_HTTP_USER ? { user: env.SMS_HTTP_USER, password: env.SMS_HTTP_PASSWORD! } : {}),
    ...(env.SMS_HTTP_TOKEN ? { token: env.SMS_HTTP_TOKEN } : {}),
  };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const port = overrides.port ?? envInt(env, 'PORT', 8080, 0, 65535);
  const rawBase = overrides.baseUrl ?? env.BASE_URL ?? `http://localhost:${port}`;
  let baseUrl: string;
  try {
    const u = new URL(rawBase);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol');
    baseUrl = rawBase.replace(/\/+$/, '');
  } catch {
    throw new ConfigError(`BASE_URL must be an absolute http(s) URL such as https://hub.example.org, got '${rawBase}'`);
  }
  const databaseUrl = overrides.databaseUrl ?? (env.DATABASE_URL || undefined);
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError(`DATABASE_URL must be a postgres:// URL, got '${databaseUrl}'`);
  }
  const adminToken = overrides.adminToken ?? (env.ADMIN_TOKEN || undefined);
  if (adminToken !== undefined && adminToken.length < 16) throw new ConfigError('ADMIN_TOKEN must be at least 16 characters');
  const smsHttp = overrides.smsHttp ?? smsHttpOf(env);
  const emailGateway = overrides.smsEmailGateway ?? (env.SMS_EMAIL_GATEWAY || undefined);
  if (emailGateway !== undefined && emailGateway !== SMS_ADDRESS_TEMPLATE && !/^[^\s@]*\{number\}[^\s@]*@[^\s@]+$/.test(emailGateway)) {
    throw new ConfigError(`SMS_EMAIL_GATEWAY must be an email address template containing {number}, such as {number}@sms.example.net, got '${emailGateway}'`);
  }
  if (smsHttp && emailGateway && emailGateway !== SMS_ADDRESS_TEMPLATE) throw new ConfigError('Set SMS_HTTP_URL (an HTTP SMS gateway) or SMS_EMAIL_GATEWAY (an email-to-SMS gateway), not both');
  // With the HTTP gateway every text is queued as sms:+<digits>; the outbox worker sends those to it.
  const smsEmailGateway = smsHttp ? SMS_ADDRESS_TEMPLATE : emailGateway;
  return {
    port,
    host: overrides.host ?? env.HOST ?? '0.0.0.0',
    baseUrl,
    fhirBaseUrl: `${baseUrl}/fhir`,
    databaseUrl,
    dataDir: overrides.dataDir ?? path.resolve(env.DATA_DIR ?? './data'),
    logLevel: overrides.logLevel ?? env.LOG_LEVEL ?? 'info',
    maxBodyBytes: overrides.maxBodyBytes ?? envInt(env, 'MAX_BODY_BYTES', 5 * 1024 * 1024, 1024, 512 * 1024 * 1024),
    adminToken,
    seedDemo: overrides.seedDemo ?? env.SEED_DEMO !== 'false',
    shutdownGraceMs: overrides.shutdownGraceMs ?? envInt(env, 'SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    shutdownDrainNoticeMs: overrides.shutdownDrainNoticeMs ?? envInt(env, 'SHUTDOWN_DRAIN_NOTICE_MS', 0, 0, 600_000),
    smtpUrl: overrides.smtpUrl ?? (env.SMTP_URL || undefined),
    mailDir: overrides.mailDir ?? mailDir(env.MAIL_DIR, rawBase),
    mailFrom: overrides.mailFrom ?? env.MAIL_FROM ?? 'vaxhub <no-reply@vaxhub.local>',
    timeZone: overrides.timeZone ?? hubTimeZone(env.HUB_TIME_ZONE),
    mailRates: overrides.mailRates ?? {
      urgent: envInt(env, 'MAIL_RATE_URGENT', DEFAULT_MAIL_RATES.urgent, 1, 10_000),
      transactional: envInt(env, 'MAIL_RATE_TRANSACTIONAL', DEFAULT_MAIL_RATES.transactional, 1, 10_000),
      bulk: envInt(env, 'MAIL_RATE_BULK', DEFAULT_MAIL_RATES.bulk, 1, 10_000),
    },
    smsEmailGateway,
    ...(smsHttp ? { smsHttp } : {}),
    devOpenAccess: overrides.devOpenAccess === true,
    iisPollMs: overrides.iisPollMs ?? (env.IIS_POLL_MS ? envInt(env, 'IIS_POLL_MS', 1000, 5, 3_600_000) : undefined),
    iisInboundMllpPort: overrides.iisInboundMllpPort ?? (env.IIS_INBOUND_MLLP_PORT ? envInt(env, 'IIS_INBOUND_MLLP_PORT', 0, 0, 65535) : undefined),
    iisInboundSoapPath: soapPath(overrides.iisInboundSoapPath ?? env.IIS_INBOUND_SOAP_PATH),
    cdsiDataDir: overrides.cdsiDataDir ?? cdsiDataDir(env.CDSI_DATA_DIR),
    noShowGraceMinutes: overrides.noShowGraceMinutes ?? envInt(env, 'NO_SHOW_GRACE_MINUTES', 60, 0, 24 * 60),
    noShowSweepMs: overrides.noShowSweepMs ?? envInt(env, 'NO_SHOW_SWEEP_MS', 60_000, 100, 3_600_000),
    closureOfferHours: overrides.closureOfferHours ?? envInt(env, 'CLOSURE_OFFER_HOURS', 72, 1, 24 * 14),
    followupSteps: overrides.followupSteps ?? followupSteps(env.FOLLOWUP_STEPS),
    followupSweepMs: overrides.followupSweepMs ?? envInt(env, 'FOLLOWUP_SWEEP_MS', 60_000, 50, 3_600_000),
    cluster: overrides.cluster ?? clusterOf({ ...env, DATABASE_URL: databaseUrl }),
  };
}
