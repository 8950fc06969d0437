/**
 * The front desk's queue of invitations staff deliver (issue 21): people drawn who have no email or textable phone
 * (scheduling/invitations/letters.ts queues them in the draw). For each: who, their registration number, how to
 * reach them (the address for a letter by post, the phone if any), the invitation's expiry, and whether it was
 * printed, posted or handed over; and the letter itself, in the person's language, as a page to print. The letter
 * carries no link and no ticket secret: the person calls or comes to the desk with it or with their registration
 * number, and staff book for them there within the rules, with this invitation (desk-booking.ts).
 */
import type { Patient } from 'fhir/r4';
import { formatWhen, mailLanguage, preferredLanguage, type MailLanguage } from '../notify/mail-locale.js';
import { mailText } from '../notify/public-mail.js';
import { formatRegistrationNumber } from '../scheduling/booking-reference.js';
import { getInvitationLetter, listInvitationLetters, type LetterRow } from '../scheduling/invitations/letters.js';
import type { Queryable } from '../store/db.js';
import type { AnyResource, Repository } from '../store/repository-types.js';
import { displayName } from './person-search.js';

export interface InvitationLetterItem {
  id: string;
  patientId: string;
  name: string;
  birthDate?: string;
  /** `R-ABCD-EFGH`, what the person says at the desk (the registration id for one not yet given a number). */
  registrationNumber: string;
  channel: 'post' | 'clinic';
  /** `chosen` by the person at registration, or `no-sms-gateway` (a phone only; this hub cannot text). */
  why: 'chosen' | 'no-sms-gateway';
  language: MailLanguage;
  /** The postal address lines (for a letter by post; empty when none is known). */
  addressLines: string[];
  phone?: string;
  invitationExpiresAt: string;
  /** live: still bookable; used: booked with it already; expired or revoked: no longer bookable. */
  invitationStatus: 'live' | 'used' | 'expired' | 'revoked';
  done: { at: string; how: string; by: string | null } | null;
}

const iso = (v: string | Date): string => new Date(v).toISOString();

function addressLinesOf(p: Patient | undefined): string[] {
  const a = p?.address?.[0];
  if (!a) return [];
  return [...(a.line ?? []), [a.postalCode, a.city].filter(Boolean).join(' '), a.state ?? ''].filter((l) => l.trim());
}

function invitationStatus(row: LetterRow, now: Date): InvitationLetterItem['invitationStatus'] {
  if (row.ticket_status === 'used' || row.ticket_status === 'revoked') return row.ticket_status;
  return row.ticket_status === 'expired' || new Date(row.expires_at).getTime() <= now.getTime() ? 'expired' : 'live';
}

async function itemOf(repo: Repository, row: LetterRow, now: Date): Promise<InvitationLetterItem> {
  const patient = (await repo.readOptional<AnyResource>('Patient', row.patient_id)) as unknown as Patient | undefined;
  return {
    id: row.id,
    patientId: row.patient_id,
    name: patient ? displayName(patient) : row.patient_id,
    ...(patient?.birthDate ? { birthDate: patient.birthDate } : {}),
    registrationNumber: row.number ? formatRegistrationNumber(row.number) : row.registrant_id,
    channel: row.channel,
    why: row.why,
    language: mailLanguage(row.language ?? preferredLanguage(patient) ?? 'en'),
    addressLines: addressLinesOf(patient),
    ...(row.phone ? { phone: row.phone } : {}),
    invitationExpiresAt: iso(row.expires_at),
    invitationStatus: invitationStatus(row, now),
    done: row.done_at ? { at: iso(row.done_at), how: row.done_how ?? 'printed', by: row.done_by } : null,
  };
}

export async function invitationLetterList(deps: { db: Queryable; repo: Repository }, state: 'pending' | 'done' | 'all', now: Date): Promise<InvitationLetterItem[]> {
  const rows = await listInvitationLetters(deps.db, state, now);
  return Promise.all(rows.map((r) => itemOf(deps.repo, r, now)));
}

export async function invitationLetterItem(deps: { db: Queryable; repo: Repository }, id: string, now: Date): Promise<InvitationLetterItem> {
  return itemOf(deps.repo, await getInvitationLetter(deps.db, id), now);
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * The letter as one HTML page: the recipient block (name and, for post, the address, placed for a window envelope),
 * the invitation in the person's language with the expiry in the hub's zone, and the registration number large.
 * Its stylesheet is inline (the hub's page policy allows inline styles, no script) with a print page of its own;
 * the console prints the `article` inside it with its own print stylesheet.
 */
export function invitationLetterHtml(item: InvitationLetterItem, timeZone: string, now: Date): string {
  const l = item.language;
  const expires = formatWhen(item.invitationExpiresAt, timeZone, l);
  const recipient = [item.name, ...(item.channel === 'post' ? item.addressLines : [])].map(esc).join('<br>');
  const dated = new Intl.DateTimeFormat({ en: 'en-US', es: 'es-US', ko: 'ko-KR' }[l], { year: 'numeric', month: 'long', day: 'numeric', timeZone }).format(now);
  return `<!doctype html>
<html lang="${l}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(mailText(l, 'letter.title'))}: ${esc(item.name)}</title>
<style>
  body { font: 12pt/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #000; background: #fff; max-width: 170mm; margin: 12mm auto; padding: 0 6mm; }
  .recipient { font-style: normal; min-height: 32mm; margin: 0 0 10mm; }
  .dated { text-align: right; margin: 0 0 8mm; }
  h1 { font-size: 17pt; margin: 0 0 5mm; }
  .number { font: 700 20pt ui-monospace, "SFMono-Regular", Menlo, monospace; letter-spacing: .08em; margin: 6mm 0; }
  .valid { font-weight: 700; }
  @page { size: auto; margin: 16mm; }
  @media print { body { margin: 0; padding: 0; max-width: none; } }
</style>
</head>
<body>
<article class="invitation-letter" lang="${l}" data-letter="${esc(item.id)}">
<address class="recipient">${recipient}</address>
<p class="dated">${esc(dated)}</p>
<h1>${esc(mailText(l, 'letter.title'))}</h1>
<p>${esc(mailText(l, 'letter.intro'))}</p>
<p>${esc(mailText(l, 'letter.how', { expires }))}</p>
<p class="number">${esc(mailText(l, 'letter.number', { id: item.registrationNumber }))}</p>
<p class="valid">${esc(mailText(l, 'letter.valid', { expires }))}</p>
<p>${esc(mailText(l, 'letter.bring'))}</p>
</article>
</body>
</html>
`;
}
