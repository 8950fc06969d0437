/**
 * A hub refusal in the person's words: the catalogue's sentence for its stable code (`err.SLOT_FULL`, ...), so a
 * Spanish or Korean page never shows the hub's English diagnostics for a known problem. Unknown codes return
 * undefined and the caller shows the hub's own text inside its own sentence.
 */
import { HubError } from './api.js';
import { isMessageKey, t } from './i18n.js';

/**
 * The hub's error codes a member of the public can meet on the sign-up, booking and wallet pages (src/fhir/outcomes.ts);
 * each has an `err.<code>` sentence in every language (test/apps/app-logic.test.ts).
 */
export const PUBLIC_ERROR_CODES = [
  'SLOT_FULL', 'HOLD_EXPIRED', 'ALREADY_BOOKED', 'NO_SUPPLY', 'INTERVAL_TOO_SHORT', 'INVITATION_REQUIRED', 'INVITATION_USED',
  'INVITATION_EXPIRED', 'INVITATION_INVALID', 'OUTSIDE_WINDOW', 'QUEUE_TOKEN_INVALID', 'NOT_ADMITTED', 'NOT_ELIGIBLE',
  'TOO_MANY_REQUESTS', 'ALREADY_REGISTERED', 'APPOINTMENT_STATE', 'VERSION_CONFLICT', 'PRECONDITION_FAILED', 'NOT_FOUND',
  'UNAUTHORIZED', 'FORBIDDEN', 'DATABASE_UNAVAILABLE', 'INTERNAL', 'CARD_TOO_LARGE_FOR_QR', 'CARDS_REVOKED',
] as const;

export function errorWords(e: unknown): string | undefined {
  if (!(e instanceof HubError) || !e.code) return undefined;
  const key = `err.${e.code}`;
  return isMessageKey(key) ? t(key, { s: e.retryAfterSeconds ?? 30 }) : undefined;
}
