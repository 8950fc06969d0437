/**
 * Waiting-room state in the database, shared by every hub process: the event row (counters and the frontier's
 * parameters), places held by known people or devices, and booking sessions of admitted people.
 * Arrival numbers are reserved with one `UPDATE ... RETURNING` on the event row (in blocks per process, see
 * arrival-blocks.ts), which also folds the frontier so that admission time cannot pile up while the queue is empty.
 */
import crypto from 'node:crypto';
import { badRequest, fhirError } from '../../fhir/outcomes.js';
import type { Db, Queryable } from '../../store/db.js';
import { MAY_LAG } from '../../store/read-replicas.js';
import { getSecret } from '../invitations/secrets.js';
import type { WaitingRoomEvent } from './admission.js';
import type { ArrivalBlocks } from './arrival-blocks.js';
import { signQueueToken, type QueueTokenPayload } from './queue-token.js';

interface EventRow {
  id: string;
  name: string;
  opens_at: string;
  shuffle_seed: string;
  configured_rate_per_minute: number;
  rate_factor: number;
  max_active: number;
  session_seconds: number;
  paused: boolean;
  queue_all: boolean;
  capped: boolean;
  frontier_base: number;
  rate_since: string;
  pre_count: number;
  post_count: number;
  done_count: number;
  version: number;
  gaps_credited?: number;
}

function fromRow(r: EventRow): WaitingRoomEvent {
  return {
    id: r.id, name: r.name, opensAt: Date.parse(r.opens_at), shuffleSeed: r.shuffle_seed,
    configuredRatePerMinute: Number(r.configured_rate_per_minute), rateFactor: Number(r.rate_factor), maxActive: Number(r.max_active),
    sessionSeconds: Number(r.session_seconds), paused: r.paused, queueAll: r.queue_all, capped: r.capped,
    frontierBase: Number(r.frontier_base), rateSince: Date.parse(r.rate_since), preCount: Number(r.pre_count),
    postCount: Number(r.post_count), doneCount: Number(r.done_count), version: Number(r.version),
    gapsCredited: Number(r.gaps_credited ?? 0),
  };
}

export interface CreateEventInput {
  id?: string;
  name: string;
  opensAt: Date;
  ratePerMinute: number;
  maxActive: number;
  sessionSeconds?: number;
}

export async function createEvent(db: Queryable, input: CreateEventInput): Promise<WaitingRoomEvent> {
  if (!(input.ratePerMinute > 0)) throw badRequest('ratePerMinute must be positive', 'ratePerMinute');
  if (!(Number.isInteger(input.maxActive) && input.maxActive > 0)) throw badRequest('maxActive must be a positive integer', 'maxActive');
  if (Number.isNaN(input.opensAt.getTime())) throw badRequest('opensAt must be an instant', 'opensAt');
  const r = await db.query<EventRow>(
    `INSERT INTO waiting_room_event (id, name, opens_at, shuffle_seed, configured_rate_per_minute, max_active, session_seconds, rate_since)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $3) RETURNING *`,
    [input.id ?? crypto.randomUUID(), input.name, input.opensAt.toISOString(), crypto.randomBytes(32).toString('hex'),
      input.ratePerMinute, input.maxActive, input.sessionSeconds ?? 900],
  );
  return fromRow(r.rows[0]!);
}

export async function loadEvent(db: Queryable, id: string): Promise<WaitingRoomEvent | undefined> {
  const r = await db.query<EventRow>('SELECT * FROM waiting_room_event WHERE id = $1', [id]);
  return r.rows[0] ? fromRow(r.rows[0]) : undefined;
}

/**
 * The event row for the status answers each process computes from its ~1 s cache: a read replica seen caught up
 * within DATABASE_READ_MAX_LAG_MS may answer it (MAY_LAG), so polling crowds cost the primary nothing.
 */
export async function loadEventForStatus(db: Queryable, id: string): Promise<WaitingRoomEvent | undefined> {
  const r = await db.query<EventRow>(`${MAY_LAG}SELECT * FROM waiting_room_event WHERE id = $1`, [id]);
  return r.rows[0] ? fromRow(r.rows[0]) : undefined;
}

const RATE_SQL = 'CASE WHEN paused OR queue_all OR capped THEN 0 ELSE configured_rate_per_minute * rate_factor END';
/**
 * Whether an arrival stamped $2 joins the pre-queue. Joins wait for this row's lock, so one stamped just before
 * opening can commit after others stamped after it: once anyone has arrived after opening, the pre-queue (and so
 * the shuffle of its positions) is closed for good, and such a straggler queues first come first served.
 */
const PRE_SQL = '($2::timestamptz < opens_at AND post_count = 0)';

/** The frontier folded to the instant $N (SQL), capped at the numbers handed out so time cannot pile up. */
function foldedFrontierSql(instant: string): string {
  return `CASE WHEN ${instant}::timestamptz >= opens_at THEN LEAST(pre_count + post_count,
            frontier_base + ${RATE_SQL} * GREATEST(0, EXTRACT(EPOCH FROM (${instant}::timestamptz - GREATEST(rate_since, opens_at)))) / 60)
          ELSE frontier_base END`;
}
function advancedRateSinceSql(instant: string): string {
  return `CASE WHEN ${instant}::timestamptz >= opens_at THEN GREATEST(rate_since, ${instant}::timestamptz) ELSE rate_since END`;
}

export interface Arrival {
  phase: 'p' | 'o';
  n: number;
}

/**
 * Reserves `count` consecutive arrival numbers (pre-queue before opening, FCFS after) in one statement; also folds
 * the frontier so admission time cannot pile up while the queue is empty. Returns the first number of the range.
 */
export async function reserveArrivals(
  db: Queryable,
  eventId: string,
  now: Date,
  count: number,
): Promise<{ phase: 'p' | 'o'; first: number; opensAt: number }> {
  if (!(Number.isInteger(count) && count > 0)) throw new TypeError('count must be a positive integer');
  const r = await db.query<{ pre: boolean; pre_count: number; post_count: number; opens_at: string }>(
    `UPDATE waiting_room_event SET
        pre_count = pre_count + CASE WHEN ${PRE_SQL} THEN $3::bigint ELSE 0 END,
        post_count = post_count + CASE WHEN ${PRE_SQL} THEN 0 ELSE $3::bigint END,
        frontier_base = ${foldedFrontierSql('$2')},
        rate_since = ${advancedRateSinceSql('$2')}
      WHERE id = $1
      RETURNING ${PRE_SQL} AS pre, pre_count, post_count, opens_at`,
    [eventId, now.toISOString(), count],
  );
  const row = r.rows[0];
  if (!row) throw fhirError('NOT_FOUND', `waiting-room event ${eventId} not found`);
  const last = Number(row.pre ? row.pre_count : row.post_count);
  return { phase: row.pre ? 'p' : 'o', first: last - count + 1, opensAt: Date.parse(row.opens_at) };
}

/**
 * Gives back the open-phase numbers first..first+count-1 if they are still the last ones reserved (no process
 * reserved after them): the next reservation hands them out again, so they are never gaps. True when given back.
 * Never down to zero: post_count = 0 keeps the pre-queue open for stragglers stamped before opening (PRE_SQL).
 */
export async function giveBackArrivals(db: Queryable, eventId: string, first: number, count: number): Promise<boolean> {
  const r = await db.query(
    `UPDATE waiting_room_event SET post_count = post_count - $3::bigint,
        frontier_base = LEAST(frontier_base, pre_count + post_count - $3::bigint)
      WHERE id = $1 AND post_count = $2::bigint AND post_count > $3::bigint`,
    [eventId, first + count - 1, count],
  );
  return r.rowCount === 1;
}

/**
 * Credits `gaps` arrival numbers that were reserved but never handed out (a retired block's tail) and that the
 * frontier has already passed, so the time spent passing them is given back and admission counts people.
 */
export async function creditGaps(db: Queryable, eventId: string, gaps: number, now: Date): Promise<void> {
  if (!(gaps > 0)) return;
  await db.query(
    `UPDATE waiting_room_event SET
        frontier_base = LEAST(pre_count + post_count, ${foldedFrontierSql('$2')} + $3::double precision),
        rate_since = ${advancedRateSinceSql('$2')},
        gaps_credited = gaps_credited + $3::bigint
      WHERE id = $1`,
    [eventId, now.toISOString(), gaps],
  );
}

/** Writes a gap: an open-phase range as one row at its known position, pre-queue numbers one row each (shuffled). */
export async function saveGap(db: Queryable, eventId: string, phase: 'p' | 'o', first: number, count: number): Promise<void> {
  if (phase === 'o') {
    await db.query(
      `INSERT INTO waiting_room_gap (event_id, phase, first_number, count, position)
       SELECT id, 'open', $2::bigint, $3::bigint, pre_count + $2::bigint FROM waiting_room_event WHERE id = $1
       ON CONFLICT DO NOTHING`,
      [eventId, first, count],
    );
  } else {
    await db.query(
      `INSERT INTO waiting_room_gap (event_id, phase, first_number, count)
       SELECT $1, 'pre', n, 1 FROM generate_series($2::bigint, $2::bigint + $3::bigint - 1) AS n ON CONFLICT DO NOTHING`,
      [eventId, first, count],
    );
  }
}

/** Whether any gap row of the event is passed by `frontier`, and whether pre-queue rows still wait for a position. */
export async function gapRowsDue(db: Queryable, eventId: string, frontier: number): Promise<{ passed: boolean; unplaced: boolean }> {
  const r = await db.query<{ passed: boolean | null; unplaced: boolean | null }>(
    `SELECT bool_or(position <= $2::bigint) AS passed, bool_or(position IS NULL) AS unplaced
       FROM waiting_room_gap WHERE event_id = $1 AND (position IS NULL OR position <= $2::bigint)`,
    [eventId, frontier],
  );
  return { passed: r.rows[0]?.passed === true, unplaced: r.rows[0]?.unplaced === true };
}

/** Gives pre-queue gap rows their shuffled position (after opening, when the shuffle is fixed), in batches. */
export async function placePreQueueGaps(db: Queryable, eventId: string, positionOf: (n: number) => number | undefined): Promise<void> {
  const rows = (await db.query<{ first_number: number }>(
    `SELECT first_number FROM waiting_room_gap WHERE event_id = $1 AND phase = 'pre' AND position IS NULL LIMIT 10000`,
    [eventId],
  )).rows;
  const numbers: number[] = [];
  const positions: number[] = [];
  for (const r of rows) {
    const pos = positionOf(Number(r.first_number));
    if (pos !== undefined) {
      numbers.push(Number(r.first_number));
      positions.push(pos);
    }
  }
  if (!numbers.length) return;
  await db.query(
    `UPDATE waiting_room_gap g SET position = u.pos FROM unnest($2::bigint[], $3::bigint[]) AS u(n, pos)
      WHERE g.event_id = $1 AND g.phase = 'pre' AND g.first_number = u.n AND g.position IS NULL`,
    [eventId, numbers, positions],
  );
}

/**
 * Credits the gap positions at or below `frontier` and removes them (a range passed in part keeps its rest), in
 * one transaction; rows another process is crediting are skipped (SKIP LOCKED), so each is credited once.
 */
export async function creditPassedGapRows(db: Db, eventId: string, frontier: number, now: Date): Promise<number> {
  return db.transaction(async (tx) => {
    const rows = (await tx.query<{ phase: 'pre' | 'open'; first_number: number; count: number; position: number }>(
      `SELECT phase, first_number, count, position FROM waiting_room_gap
        WHERE event_id = $1 AND position <= $2::bigint FOR UPDATE SKIP LOCKED`,
      [eventId, frontier],
    )).rows;
    let passed = 0;
    for (const r of rows) {
      const count = Number(r.count);
      const n = Math.min(count, frontier - Number(r.position) + 1);
      passed += n;
      if (n >= count) {
        await tx.query('DELETE FROM waiting_room_gap WHERE event_id = $1 AND phase = $2 AND first_number = $3', [eventId, r.phase, r.first_number]);
      } else {
        await tx.query(
          `UPDATE waiting_room_gap SET first_number = first_number + $4::bigint, count = count - $4::bigint, position = position + $4::bigint
            WHERE event_id = $1 AND phase = $2 AND first_number = $3`,
          [eventId, r.phase, r.first_number, n],
        );
      }
    }
    if (passed > 0) await creditGaps(tx, eventId, passed, now);
    return passed;
  });
}

/** Gap numbers written and not yet credited (tests and the operator's view). */
export async function pendingGapCount(db: Queryable, eventId: string): Promise<number> {
  const r = await db.query<{ n: number | null }>('SELECT sum(count)::bigint AS n FROM waiting_room_gap WHERE event_id = $1', [eventId]);
  return Number(r.rows[0]?.n ?? 0);
}

export interface JoinResult {
  token: string;
  payload: QueueTokenPayload;
  /** true when this person or device already held a place (reload, second device): same place returned. */
  returning: boolean;
}

/** Places of known people (registrant or device bindings) already seen by this process: no database read again. */
export class KnownPlaces {
  private readonly places = new Map<string, { phase: 'p' | 'o'; n: number; replayId: string }>();
  constructor(private readonly maxEntries = 200_000) {}
  get(eventId: string, binding: string): { phase: 'p' | 'o'; n: number; replayId: string } | undefined {
    return this.places.get(`${eventId}\n${binding}`);
  }
  set(eventId: string, binding: string, place: { phase: 'p' | 'o'; n: number; replayId: string }): void {
    if (this.places.size >= this.maxEntries) this.places.clear();
    this.places.set(`${eventId}\n${binding}`, place);
  }
}

export interface JoinOptions {
  /** This process's block allocator; without it each join reserves one number (one write on the event row). */
  arrivals?: ArrivalBlocks;
  /** This process's cache of remembered places. */
  known?: KnownPlaces;
}

export interface JoinInput {
  eventId: string;
  binding: string;
  remember: boolean;
  now: Date;
  /** The registrant whose claimed invitation took the place (remembered places only): who to mail when admitted. */
  registrantId?: string;
  /** The language the person waits in (`en`, `es`, `ko`), for that mail. */
  language?: string;
}

/**
 * Joins the queue. With `remember` the place is stored under the binding (unique per event), so a reload or a
 * second device of the same registrant gets the same place, in this process or any other; without it (anonymous
 * device) the signed token alone holds the place. A known place costs no write: the process cache, then one read.
 */
export async function joinQueue(
  db: Db,
  input: JoinInput,
  opts: JoinOptions = {},
): Promise<JoinResult> {
  const secret = await getSecret(db, 'queue-token');
  const result = (place: { phase: 'p' | 'o'; n: number; replayId: string }, returning: boolean): JoinResult => {
    const payload: QueueTokenPayload = { e: input.eventId, p: place.phase, n: place.n, b: input.binding, r: place.replayId, t: Math.floor(input.now.getTime() / 1000) };
    return { token: signQueueToken(secret, payload), payload, returning };
  };
  const stored = async (): Promise<{ phase: 'p' | 'o'; n: number; replayId: string } | undefined> => {
    const e = (await db.query<{ phase: 'pre' | 'open'; arrival_number: number; replay_id: string }>(
      'SELECT phase, arrival_number, replay_id FROM waiting_room_entry WHERE event_id = $1 AND binding = $2',
      [input.eventId, input.binding],
    )).rows[0];
    return e && { phase: e.phase === 'pre' ? 'p' : 'o', n: Number(e.arrival_number), replayId: e.replay_id };
  };
  if (input.remember) {
    const known = opts.known?.get(input.eventId, input.binding) ?? (await stored());
    if (known) {
      opts.known?.set(input.eventId, input.binding, known);
      return result(known, true);
    }
  }
  const { phase, n } = opts.arrivals
    ? await opts.arrivals.next(input.eventId, input.now)
    : await reserveArrivals(db, input.eventId, input.now, 1).then((r) => ({ phase: r.phase, n: r.first }));
  const place = { phase, n, replayId: crypto.randomBytes(12).toString('base64url') };
  if (!input.remember) return result(place, false);
  // The unique key (event_id, binding) decides between concurrent joins of the same person, across processes.
  const ins = await db.query(
    `INSERT INTO waiting_room_entry (event_id, binding, phase, arrival_number, replay_id, registrant_id, language) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (event_id, binding) DO NOTHING`,
    [input.eventId, input.binding, phase === 'p' ? 'pre' : 'open', n, place.replayId, input.registrantId ?? null, input.language ?? null],
  );
  if (ins.rowCount === 1) {
    opts.known?.set(input.eventId, input.binding, place);
    return result(place, false);
  }
  // A concurrent join of the same person won: take their place; the number drawn here is a gap.
  opts.arrivals?.noteGap(input.eventId, phase, n);
  const other = (await stored())!;
  opts.known?.set(input.eventId, input.binding, other);
  return result(other, true);
}

/**
 * Changes what governs the rate (operator pause/resume/queue-all, the cap, the adaptive factor), folding the
 * frontier reached so far into its base first so nobody already admitted loses their admission.
 * Optimistic: retried on a concurrent change of the row.
 */
export async function setEventControl(
  db: Queryable,
  eventId: string,
  change: Partial<Pick<WaitingRoomEvent, 'paused' | 'queueAll' | 'capped' | 'rateFactor' | 'configuredRatePerMinute' | 'maxActive'>>,
  now = new Date(),
): Promise<WaitingRoomEvent> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const e = await loadEvent(db, eventId);
    if (!e) throw fhirError('NOT_FOUND', `waiting-room event ${eventId} not found`);
    const next = { ...e, ...change };
    const r = await db.query<EventRow>(
      // The fold is computed from the row as it is now (arrivals fold it too, without bumping the version), and
      // rate_since only moves forward, so concurrent folds never count the same interval twice.
      `UPDATE waiting_room_event SET paused = $3, queue_all = $4, capped = $5, rate_factor = $6, configured_rate_per_minute = $7,
              max_active = $8,
              frontier_base = ${foldedFrontierSql('$9')},
              rate_since = ${advancedRateSinceSql('$9')},
              version = version + 1, updated_at = now()
        WHERE id = $1 AND version = $2 RETURNING *`,
      [eventId, e.version, next.paused, next.queueAll, next.capped, next.rateFactor, next.configuredRatePerMinute, next.maxActive, now.toISOString()],
    );
    if (r.rows[0]) return fromRow(r.rows[0]);
  }
  throw fhirError('VERSION_CONFLICT', `waiting-room event ${eventId} is changing too fast; retry`);
}

/**
 * An admitted person enters the booking path: starts (or continues) their session. Returns 'over' when the
 * place was already used to the end or its session ran out, so one place never admits twice.
 */
export async function enterSession(db: Queryable, e: WaitingRoomEvent, replayId: string, now: Date): Promise<'entered' | 'active' | 'over'> {
  const expires = new Date(now.getTime() + e.sessionSeconds * 1000);
  const ins = await db.query(
    `INSERT INTO waiting_room_session (event_id, replay_id, entered_at, expires_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
    [e.id, replayId, now.toISOString(), expires.toISOString()],
  );
  if (ins.rowCount === 1) return 'entered';
  const s = (await db.query<{ expires_at: string; done_at: string | null }>(
    'SELECT expires_at, done_at FROM waiting_room_session WHERE event_id = $1 AND replay_id = $2',
    [e.id, replayId],
  )).rows[0];
  return !s || s.done_at || Date.parse(s.expires_at) <= now.getTime() ? 'over' : 'active';
}

/** The admitted person finished (booked or left): frees their active slot at once. */
export async function finishSession(db: Db, eventId: string, replayId: string, now = new Date()): Promise<boolean> {
  return db.transaction(async (tx) => {
    const r = await tx.query('UPDATE waiting_room_session SET done_at = $3 WHERE event_id = $1 AND replay_id = $2 AND done_at IS NULL', [
      eventId, replayId, now.toISOString(),
    ]);
    if (r.rowCount === 1) await tx.query('UPDATE waiting_room_event SET done_count = done_count + 1 WHERE id = $1', [eventId]);
    return r.rowCount === 1;
  });
}

export async function activeSessions(db: Queryable, eventId: string, now: Date): Promise<number> {
  const r = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM waiting_room_session WHERE event_id = $1 AND done_at IS NULL AND expires_at > $2',
    [eventId, now.toISOString()],
  );
  return Number(r.rows[0]?.n ?? 0);
}
