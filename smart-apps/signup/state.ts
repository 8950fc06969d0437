/**
 * What the sign-up app remembers on this device (localStorage, so a reload or a return visit keeps the person's
 * registration, confirmed invitation, waiting-room place, hold and booking). Nothing here is a password: the
 * tokens are the hub's own short-lived, signed grants, and each expires on the hub's side.
 */

export interface RegistrantState {
  registrantId: string;
  statusToken: string;
  /** The postal code registered with: the clinic search starts from it. */
  postalCode?: string;
}

export interface ClaimState {
  ticketId: string;
  claimToken: string;
  claimTokenExpiresAt: string;
  patientId: string;
  ticketExpiresAt: string;
}

export interface QueueState {
  eventId: string;
  token: string;
}

export interface SlotChoice {
  slotId: string;
  start: string;
  end: string;
  locationName: string;
  address: string;
  productCvx: string;
  productName: string;
  /** The clinic's time zone: the page writes the time as the clinic's clock shows it. */
  timeZone?: string;
}

export interface HoldState {
  appointmentId: string;
  expiresAt: string;
  slot: SlotChoice;
  /** Sent with $book so a retried confirmation answers the first result, never a second booking. */
  idempotencyKey: string;
}

export interface BookingState {
  appointmentId: string;
  /** The short booking reference (ABCD-EFGH) people are given instead of the id. */
  reference?: string;
  slot: SlotChoice;
  doseNumber: number;
}

interface Stored {
  registrant: RegistrantState;
  claim: ClaimState;
  queue: QueueState;
  hold: HoldState;
  booking: BookingState;
}

const PREFIX = 'vaxhub.signup.';

export function load<K extends keyof Stored>(key: K): Stored[K] | undefined {
  try {
    const raw = localStorage.getItem(PREFIX + key);
    return raw ? (JSON.parse(raw) as Stored[K]) : undefined;
  } catch {
    return undefined;
  }
}

export function save<K extends keyof Stored>(key: K, value: Stored[K] | undefined): void {
  try {
    if (value === undefined) localStorage.removeItem(PREFIX + key);
    else localStorage.setItem(PREFIX + key, JSON.stringify(value));
  } catch {
    // storage disabled: the page still works until it is reloaded
  }
}

/** A live claim (its token not expired). */
export function liveClaim(now = Date.now()): ClaimState | undefined {
  const c = load('claim');
  return c && Date.parse(c.claimTokenExpiresAt) > now ? c : undefined;
}
