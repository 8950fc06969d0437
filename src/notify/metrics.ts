/**
 * Prometheus metrics of the mail outbox, in a registry of their own that /metrics merges
 * (src/scheduling/opening-night/metrics-route.ts).
 */
import { Histogram, Registry } from 'prom-client';

export const notifyRegistry = new Registry();

/**
 * From the moment a mail became due (the enqueueing transaction, e.g. the booking, or a reminder's send time) to
 * the SMTP server accepting it. Issue 20 saw confirmations at 53-72 s; this is where the next opening night shows
 * whether they waited.
 */
export const mailSendDelay = new Histogram({
  name: 'vaxhub_mail_send_delay_seconds',
  help: 'Time from a mail being due (enqueued with the change it reports, or its scheduled time) to it being sent, by priority class',
  labelNames: ['class'] as const,
  buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600],
  registers: [notifyRegistry],
});
