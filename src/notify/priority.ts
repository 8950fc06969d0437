/**
 * Priority classes of the mail outbox (issue 20: confirmations waited 53-72 s behind 400 invitations because the
 * outbox sent oldest first). The worker always takes the highest class that is due and has send budget left;
 * each class has its own rate (mails per second per hub process), so a flood of one class cannot use up the
 * relay for the others, and bulk mail, capped above by its rate, still gets it when the higher classes are quiet
 * or at their own caps (it is never starved while urgent + transactional stay within their rates).
 */

/**
 * - `urgent`: someone is waiting at a screen for it (sign-in and invitation one-time codes).
 * - `transactional`: the answer to something a person just did or a change to their booking (booking
 *   confirmations, admission notices, supply shortfalls, registration notices).
 * - `bulk`: sent to many people at once by a job (lottery invitations, reminders).
 */
export type MailClass = 'urgent' | 'transactional' | 'bulk';

/** Highest first: the order the worker claims in. */
export const MAIL_CLASSES: readonly MailClass[] = ['urgent', 'transactional', 'bulk'];

/** The stored `notification_outbox.priority` (smallint; lower is sent first). Raw SQL inserts use these numbers. */
export const MAIL_PRIORITY: Readonly<Record<MailClass, number>> = { urgent: 0, transactional: 1, bulk: 2 };

export function mailClassOf(priority: number): MailClass {
  return MAIL_CLASSES[priority] ?? 'transactional';
}

/** Mails per second per class. */
export type MailRates = Record<MailClass, number>;

/**
 * Defaults: codes and confirmations may burst to 50/s each (a crowd signing in at opening), bulk flows at 20/s
 * (10,000 invitations in under 9 minutes). Their sum (120/s) is what one hub asks of the relay at most; set the
 * rates below your relay's own limit (e.g. Amazon SES accounts start at 14/s).
 */
export const DEFAULT_MAIL_RATES: MailRates = { urgent: 50, transactional: 50, bulk: 20 };

/**
 * A token bucket on the monotonic clock (send rates are about real time, not the business clock that tests
 * freeze): `rate` tokens a second, holding at most one second's worth so an idle class can burst that much.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly capacity: number;

  constructor(private readonly rate: number, private readonly clock: () => number = () => performance.now()) {
    if (!(rate > 0) || !Number.isFinite(rate)) throw new TypeError(`a send rate must be a positive number, got ${rate}`);
    this.capacity = Math.max(1, rate);
    this.tokens = this.capacity;
    this.last = clock();
  }

  /** Whole tokens available now. */
  available(): number {
    const t = this.clock();
    this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
    return Math.floor(this.tokens);
  }

  /** Spends n tokens (n ≤ available()). */
  take(n: number): void {
    this.tokens -= n;
  }
}
