/**
 * Abuse accounting: every refused or suspicious attempt is counted (Prometheus), written as an AuditEvent
 * (src/auth/audit.ts) and, above a per-minute threshold from config, raises an alert gauge and a log line.
 */
import { recordAudit } from '../../auth/audit.js';
import type { ErrorCode, OperationOutcomeError } from '../../fhir/outcomes.js';
import type { Queryable } from '../../store/db.js';
import { abuseAlert, abuseAttempts } from '../waiting-room/metrics.js';

export type AbuseKind =
  | 'no-ticket'
  | 'bad-ticket'
  | 'replayed-ticket'
  | 'foreign-ticket'
  | 'expired-ticket'
  | 'outside-window'
  | 'bad-code'
  | 'bad-queue-token'
  | 'rate-limited'
  | 'source-spike';

export interface AbuseConfig {
  /** Attempts of one kind per minute (all sources) above which the alert fires. */
  alertPerMinute: number;
  /** Requests per minute from one source (IP) that count as a sudden spike. */
  spikePerMinute: number;
}

export const DEFAULT_ABUSE_CONFIG: AbuseConfig = { alertPerMinute: 50, spikePerMinute: 600 };

export interface AbuseAttempt {
  kind: AbuseKind;
  ip?: string;
  clientId?: string;
  patientId?: string;
  /** e.g. `invitation/<ref>` or `waiting-room/<event>`; never a ticket secret or a token. */
  what?: string;
  detail: string;
}

/** Which abuse kind a booking-gate or claim refusal is. */
export function abuseKindOf(error: OperationOutcomeError): AbuseKind {
  const code: ErrorCode | undefined = error.code;
  if (code === 'INVITATION_REQUIRED') return 'no-ticket';
  if (code === 'INVITATION_USED') return 'replayed-ticket';
  if (code === 'INVITATION_EXPIRED') return 'expired-ticket';
  if (code === 'OUTSIDE_WINDOW') return 'outside-window';
  if (code === 'TOO_MANY_REQUESTS') return 'rate-limited';
  if (/another person/.test(error.message)) return 'foreign-ticket';
  if (/does not match|wrong attempts/.test(error.message)) return 'bad-code';
  return 'bad-ticket';
}

export class AbuseAccounting {
  private readonly recent = new Map<AbuseKind, number[]>();
  private readonly perSource = new Map<string, { minute: number; count: number; flagged: boolean }>();

  constructor(
    private readonly db: Queryable,
    private readonly config: AbuseConfig = DEFAULT_ABUSE_CONFIG,
    private readonly log: (msg: string, data: Record<string, unknown>) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts, audits and checks the alert threshold. Audit failures are logged, never thrown at the caller. */
  async record(a: AbuseAttempt): Promise<void> {
    abuseAttempts.inc({ kind: a.kind });
    const t = this.now();
    const times = (this.recent.get(a.kind) ?? []).filter((x) => x > t - 60_000);
    times.push(t);
    this.recent.set(a.kind, times);
    const alerting = times.length > this.config.alertPerMinute;
    abuseAlert.set({ kind: a.kind }, alerting ? 1 : 0);
    if (alerting && times.length === this.config.alertPerMinute + 1) {
      this.log('abuse alert threshold exceeded', { kind: a.kind, perMinute: times.length, threshold: this.config.alertPerMinute });
    }
    await recordAudit(this.db, {
      action: 'operation',
      outcome: 'denied',
      who: { ip: a.ip, clientId: a.clientId },
      what: a.what,
      patientId: a.patientId,
      detail: `${a.kind}: ${a.detail}`,
    }).catch((e: unknown) => this.log('audit write failed', { error: String(e) }));
  }

  /** Whether attempts of this kind are above the alert threshold now. */
  alerting(kind: AbuseKind): boolean {
    const t = this.now();
    return (this.recent.get(kind) ?? []).filter((x) => x > t - 60_000).length > this.config.alertPerMinute;
  }

  /**
   * Notes one request from a source; the first request over the per-minute spike threshold is recorded as a
   * `source-spike` (once per source per minute). Returns true while the source is spiking.
   */
  noteRequest(ip: string): boolean {
    const minute = Math.floor(this.now() / 60_000);
    let s = this.perSource.get(ip);
    if (!s || s.minute !== minute) {
      if (this.perSource.size > 100_000) this.perSource.clear();
      s = { minute, count: 0, flagged: false };
      this.perSource.set(ip, s);
    }
    s.count++;
    if (s.count > this.config.spikePerMinute && !s.flagged) {
      s.flagged = true;
      void this.record({ kind: 'source-spike', ip, detail: `more than ${this.config.spikePerMinute} requests in a minute` });
    }
    return s.count > this.config.spikePerMinute;
  }
}
