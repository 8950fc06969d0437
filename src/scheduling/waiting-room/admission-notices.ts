/**
 * "You may leave: we will email you when it is your turn." Admission stays what admission.ts computes (a place is
 * admitted once the frontier passes its position; nothing has to run for that), so the mail is a convenience that
 * a small periodic sweep adds: per event it remembers how far (in positions) it has queued mails, and each round
 * queues one outbox row for every place of a claimed invitation between that mark and the frontier now, in one
 * INSERT ... SELECT ... ON CONFLICT (dedupe_key) DO NOTHING. The rows carry kind + payload only; the mail is
 * rendered when sent (opening-night/mail-renderers.ts), so it speaks of the invitation as it is then.
 *
 * Cost: each round reads only the places admitted since the last round (an index range for first-come places,
 * an index lookup per number for the shuffled pre-queue, found with the inverse permutation), never the whole
 * queue. Several hub processes: the process holding the event's notice row lock sweeps, the others skip it, and
 * the dedupe key `waiting-room-admitted:<event>:<replay id>` makes a second mail for one place impossible.
 *
 * An operator closing the room (booking no longer goes through it) counts as admitting everyone still in it: the
 * sweep keeps going over a closed event for a day and mails every remaining place.
 *
 * Not mailed: device places (no person known) and places already in their booking session (the person is here
 * and booking). A place whose row was written only after the frontier had passed it was admitted the moment it
 * joined, so its person is looking at the page: the sweep may have moved on without it, and that is fine.
 */
import { PeriodicRound } from '../../notify/periodic.js';
import type { Db, Queryable } from '../../store/db.js';
import { frontierAt, type WaitingRoomEvent } from './admission.js';
import { SeededPermutation } from './permutation.js';
import { loadEvent } from './store.js';

export const ADMISSION_MAIL_KIND = 'waiting-room-admitted';

/** How long after an event closes the sweep still mails the people who were waiting in it. */
const CLOSED_EVENTS_SWEPT_FOR_MS = 24 * 3_600_000;

/** What an admission outbox row carries (the renderer reads the rest when it sends). */
export interface AdmissionMailPayload {
  eventId: string;
  replayId: string;
  registrantId: string;
  language: string | null;
}

/** Arrival numbers, per phase, of the queue positions in (from, to]. */
export function arrivalsAdmittedBetween(e: Pick<WaitingRoomEvent, 'preCount' | 'shuffleSeed'>, from: number, to: number): { pre: number[]; open: { after: number; through: number } | undefined } {
  const pre: number[] = [];
  const preTo = Math.min(to, e.preCount);
  if (preTo > from) {
    // Pre-queue arrival n holds position perm(n - 1) + 1 (admission.ts positionOf): invert it per position.
    const perm = new SeededPermutation(e.shuffleSeed, e.preCount);
    for (let p = from + 1; p <= preTo; p++) pre.push(perm.indexOf(p - 1) + 1);
  }
  // First-come arrival n holds position preCount + n.
  const openFrom = Math.max(from, e.preCount);
  const open = to > openFrom ? { after: openFrom - e.preCount, through: to - e.preCount } : undefined;
  return { pre, open };
}

export interface AdmissionNoticesOptions {
  now?: () => number;
  /** Positions handled per statement; a longer backlog (a sweep that was off) takes several rounds. */
  batchPositions?: number;
  onError?: (e: unknown) => void;
}

export class AdmissionNotices {
  private readonly rounds: PeriodicRound;
  private readonly now: () => number;
  private readonly batch: number;

  constructor(private readonly db: Db, private readonly opts: AdmissionNoticesOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.batch = opts.batchPositions ?? 5000;
    this.rounds = new PeriodicRound(() => this.sweep(), (e) => this.opts.onError?.(e));
  }

  /**
   * One sweep over every open event (opened, not closed), and every event closed in the last day: closing the
   * waiting room lets everyone still in it book, so the people who left trusting the mail are told too.
   * Returns the mails queued.
   */
  async sweep(): Promise<number> {
    const now = this.now();
    const events = await this.db.query<{ id: string }>(
      'SELECT id FROM waiting_room_event WHERE (closed_at IS NULL AND opens_at <= $1) OR closed_at > $2',
      [new Date(now).toISOString(), new Date(now - CLOSED_EVENTS_SWEPT_FOR_MS).toISOString()],
    );
    let queued = 0;
    for (const { id } of events.rows) queued += await this.sweepEvent(id);
    return queued;
  }

  /** Queues the mails of one event's places admitted since the last sweep. Returns how many were queued. */
  async sweepEvent(eventId: string): Promise<number> {
    await this.db.query('INSERT INTO waiting_room_admission_notice (event_id) VALUES ($1) ON CONFLICT (event_id) DO NOTHING', [eventId]);
    let queued = 0;
    for (let round = 0; round < 100; round++) {
      const r = await this.db.transaction((tx) => this.round(tx, eventId));
      queued += r.queued;
      if (!r.more) break;
    }
    return queued;
  }

  private async round(tx: Queryable, eventId: string): Promise<{ queued: number; more: boolean }> {
    // Another process sweeping this event holds the row: leave it to them.
    const mark = (await tx.query<{ notified_through: string | number; closed: boolean }>(
      `SELECT n.notified_through, e.closed_at IS NOT NULL AS closed
         FROM waiting_room_admission_notice n JOIN waiting_room_event e ON e.id = n.event_id
        WHERE n.event_id = $1 FOR UPDATE OF n SKIP LOCKED`,
      [eventId],
    )).rows[0];
    if (!mark) return { queued: 0, more: false };
    const e = await loadEvent(tx, eventId);
    // Queue-all holds everyone, admitted or not (admission.ts): nobody is told to come now, unless the room closed.
    if (!e || (e.queueAll && !mark.closed)) return { queued: 0, more: false };
    const from = Number(mark.notified_through);
    // A closed room no longer stands in front of booking: every place in it counts as admitted.
    const frontier = mark.closed ? e.preCount + e.postCount : Math.floor(frontierAt(e, this.now()));
    if (frontier <= from) return { queued: 0, more: false };
    const to = Math.min(frontier, from + this.batch);
    const { pre, open } = arrivalsAdmittedBetween(e, from, to);
    const ins = await tx.query(
      `INSERT INTO notification_outbox (id, kind, recipient_patient_id, payload, dedupe_key, max_attempts, priority)
       SELECT gen_random_uuid()::text, $5::text, r.patient_id,
              jsonb_build_object('eventId', w.event_id, 'replayId', w.replay_id, 'registrantId', w.registrant_id, 'language', w.language),
              $5::text || ':' || w.event_id || ':' || w.replay_id, 4, 1 /* transactional: src/notify/priority.ts */
         FROM waiting_room_entry w
         JOIN registrant r ON r.id = w.registrant_id
        WHERE w.event_id = $1 AND w.registrant_id IS NOT NULL AND r.email IS NOT NULL
          AND ((w.phase = 'open' AND w.arrival_number > $2 AND w.arrival_number <= $3)
               OR (w.phase = 'pre' AND w.arrival_number = ANY($4::bigint[])))
          AND NOT EXISTS (SELECT 1 FROM waiting_room_session s WHERE s.event_id = w.event_id AND s.replay_id = w.replay_id)
       ON CONFLICT (dedupe_key) DO NOTHING`,
      [eventId, open?.after ?? 0, open?.through ?? 0, pre, ADMISSION_MAIL_KIND],
    );
    await tx.query('UPDATE waiting_room_admission_notice SET notified_through = $2, updated_at = now() WHERE event_id = $1', [eventId, to]);
    return { queued: ins.rowCount, more: to < frontier };
  }

  /** Sweeps every intervalMs (timer unref'd); stop() waits for a running sweep. */
  start(intervalMs: number): void {
    this.rounds.start(intervalMs);
  }

  async stop(): Promise<void> {
    await this.rounds.stop();
  }
}
