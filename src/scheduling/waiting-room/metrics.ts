/**
 * Prometheus metrics of opening night (waiting room, invitations, abuse). One registry of its own, exported so
 * the app can merge it into its /metrics: `Registry.merge([appRegistry, openingNightRegistry])`.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export const openingNightRegistry = new Registry();

export const waitingRoomJoins = new Counter({
  name: 'vaxhub_waiting_room_joins_total',
  help: 'Places handed out in the waiting room, by phase (pre = before opening, open = after) and whether it was a known place returned again',
  labelNames: ['phase', 'returning'] as const,
  registers: [openingNightRegistry],
});
export const waitingRoomStatusRequests = new Counter({
  name: 'vaxhub_waiting_room_status_total',
  help: 'Waiting-room status answers, by outcome',
  labelNames: ['outcome'] as const,
  registers: [openingNightRegistry],
});
export const waitingRoomAdmitted = new Gauge({
  name: 'vaxhub_waiting_room_frontier',
  help: 'Queue positions admitted so far (the admission frontier), per event',
  labelNames: ['event'] as const,
  registers: [openingNightRegistry],
});
export const waitingRoomRate = new Gauge({
  name: 'vaxhub_waiting_room_effective_rate_per_minute',
  help: 'Admission rate in force (configured rate x adaptive factor; 0 while paused or capped)',
  labelNames: ['event'] as const,
  registers: [openingNightRegistry],
});
export const shedRequests = new Counter({
  name: 'vaxhub_load_shed_total',
  help: 'Requests answered 429 by load shedding or rate limits, by reason',
  labelNames: ['reason'] as const,
  registers: [openingNightRegistry],
});
export const waitingRoomJoinLimit = new Gauge({
  name: 'vaxhub_waiting_room_join_limit',
  help: 'Joins this process lets in at once (narrowed while the event loop runs late or joins slow down; join-gate.ts); more are answered 429',
  registers: [openingNightRegistry],
});
export const waitingRoomJoinLoopDelay = new Gauge({
  name: 'vaxhub_waiting_room_join_loop_delay_seconds',
  help: 'Event-loop delay (p99 over the last 100 ms window with joins) that the join gate compared with its target (join-gate.ts)',
  registers: [openingNightRegistry],
});
export const abuseAttempts = new Counter({
  name: 'vaxhub_abuse_attempts_total',
  help: 'Refused or suspicious attempts (bad, replayed, foreign or expired ticket, outside window, spikes), by kind',
  labelNames: ['kind'] as const,
  registers: [openingNightRegistry],
});
export const abuseAlert = new Gauge({
  name: 'vaxhub_abuse_alert',
  help: '1 while attempts of this kind in the last minute exceed the configured alert threshold',
  labelNames: ['kind'] as const,
  registers: [openingNightRegistry],
});
export const bookingPathLatency = new Histogram({
  name: 'vaxhub_booking_path_seconds',
  help: 'Latency of booking-path requests as fed to the admission controller',
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [openingNightRegistry],
});
export const claimGroupSize = new Histogram({
  name: 'vaxhub_booking_claim_group_size',
  help: 'Booking claims written together in one statement and commit (src/scheduling/claim-batch.ts): 1 with no load, larger as the load grows',
  buckets: [1, 2, 4, 8, 16, 32],
  registers: [openingNightRegistry],
});
export const waitingRoomGaps = new Counter({
  name: 'vaxhub_waiting_room_arrival_gaps_total',
  help: 'Arrival numbers reserved in a block but never handed out (credited to the frontier), per event',
  labelNames: ['event'] as const,
  registers: [openingNightRegistry],
});
