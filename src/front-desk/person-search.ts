/**
 * Find a person from one search box (issue 21): a name (sounds-like, accents and small typos forgiven), a birth
 * date, a phone number, an email, a booking reference or a registration number, or several of them together
 * ("garcia 1948-02-11"). Every lookup is a FHIR search on the hub's indexes (Patient `phonetic`, `name`,
 * `birthdate`, `email`, `phone-digits`; Appointment `identifier`) or the registration's row, and matches are
 * ranked by how close the name is to what was typed.
 */
import type { Appointment, Patient } from 'fhir/r4';
import type { Queryable } from '../store/db.js';
import type { AnyResource, Repository } from '../store/repository-types.js';
import { patientIdOf } from '../scheduling/appointment-resource.js';
import { BOOKING_REFERENCE_SYSTEM, parseReference, parseRegistrationNumber } from '../scheduling/booking-reference.js';

export type MatchedBy = 'name' | 'birthDate' | 'phone' | 'email' | 'bookingReference' | 'registration';

export interface PersonQuery {
  words: string[];
  birthDate?: string;
  phoneDigits?: string;
  email?: string;
  bookingReference?: string;
  registrationId?: string;
  /** A registration number (canonical `RABCDEFGH`), typed `R-ABCD-EFGH`. */
  registrationNumber?: string;
}

export interface PersonMatch {
  patientId: string;
  name: string;
  birthDate?: string;
  phone?: string;
  email?: string;
  address?: string;
  matchedBy: MatchedBy[];
  /** 0..1: how close the name is to the words typed (1 when no words were typed). */
  score: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A typed date as YYYY-MM-DD: ISO, or month/day/year with slashes, or day.month.year with dots. */
export function typedDate(s: string): string | undefined {
  let m = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(s);
  let y: string | undefined, mo: string | undefined, d: string | undefined;
  if (m) [, y, mo, d] = m;
  else if ((m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(s))) [, mo, d, y] = m;
  else if ((m = /^(\d{1,2})\.(\d{1,2})\.(\d{4})$/.exec(s))) [, d, mo, y] = m;
  if (!y || !mo || !d) return undefined;
  const iso = `${y}-${mo.padStart(2, '0')}-${d.padStart(2, '0')}`;
  const date = new Date(`${iso}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === iso ? iso : undefined;
}

/**
 * What each part of the search box is. A whole box that reads as a booking reference ("ABCD EFGH") or a registration
 * number ("R ABCD EFGH": 9 characters starting with R, checked with the R) is one.
 */
export function parsePersonQuery(text: string): PersonQuery {
  const q: PersonQuery = { words: [] };
  const whole = text.trim();
  const reg = parseRegistrationNumber(whole);
  if (reg.ok && /\d/.test(whole)) return { words: [], registrationNumber: reg.reference };
  if (reg.ok) q.registrationNumber = reg.reference;
  const ref = parseReference(whole);
  if (ref.ok && /\d/.test(whole)) return { words: [], bookingReference: ref.reference };
  // About one reference in twenty has no digit ("KXWM-TRBA") and reads like a word: looked up as both.
  if (ref.ok) q.bookingReference = ref.reference;
  // A phone number is often typed in groups ("+1 (413) 555-0142", "413 555 0142"): neighbouring tokens of digits
  // and phone punctuation (not a date) are read together as one number when they hold 7 digits or more.
  const tokens: string[] = [];
  let run: string[] = [];
  const flush = (): void => {
    const digits = run.join('').replace(/\D/g, '');
    if (run.length > 1 && digits.length >= 7) tokens.push(run.join(''));
    else tokens.push(...run);
    run = [];
  };
  for (const token of whole.split(/[\s,;]+/).filter(Boolean)) {
    if (PHONE_PART.test(token) && !typedDate(token)) run.push(token);
    else {
      flush();
      tokens.push(token);
    }
  }
  flush();
  for (const token of tokens) {
    const date = typedDate(token);
    const digits = token.replace(/[\s().+-]/g, '');
    const asRef = parseReference(token);
    const asReg = parseRegistrationNumber(token);
    if (UUID.test(token)) q.registrationId = token.toLowerCase();
    else if (asReg.ok && /\d/.test(token)) q.registrationNumber = asReg.reference;
    else if (token.includes('@')) q.email = token.toLowerCase();
    else if (date) q.birthDate = date;
    else if (PHONE_PART.test(token) && digits.length >= 7) q.phoneDigits = digits;
    else if (asRef.ok && /\d/.test(token)) q.bookingReference = asRef.reference;
    else if (/\p{L}/u.test(token)) {
      if (asRef.ok && !q.bookingReference) q.bookingReference = asRef.reference;
      if (asReg.ok && !q.registrationNumber) q.registrationNumber = asReg.reference;
      q.words.push(token);
    }
  }
  return q;
}

/** A token that can be (part of) a typed phone number: digits with + ( ) . - */
const PHONE_PART = /^\+?[\d().-]+$/;

/**
 * The digit strings a typed number may be stored as: as typed, and for a North American number (the hub's
 * registrations are US) with and without the country code 1, so "413-555-0142" finds "+1 413 555 0142".
 */
export function phoneVariants(digits: string): string[] {
  if (digits.length === 10) return [digits, `1${digits}`];
  if (digits.length === 11 && digits.startsWith('1')) return [digits, digits.slice(1)];
  return [digits];
}

/** Lower case, accents folded, letters only: "José" and "Jose" are the same word. */
export function fold(s: string): string {
  return s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().replace(/[^\p{L}]/gu, '');
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** How well the typed words fit the person's name parts: the mean, over words, of the best part's similarity. */
export function nameScore(words: string[], patient: Patient): number {
  if (!words.length) return 1;
  const parts = (patient.name ?? []).flatMap((n) => [...(n.given ?? []), n.family ?? '', ...(n.text ? n.text.split(/\s+/) : [])]).map(fold).filter(Boolean);
  if (!parts.length) return 0;
  let total = 0;
  for (const w of words.map(fold)) {
    let best = 0;
    for (const p of parts) {
      const prefix = p.startsWith(w) && w.length >= 2 ? 0.95 : 0;
      best = Math.max(best, prefix, 1 - editDistance(w, p) / Math.max(w.length, p.length));
    }
    total += best;
  }
  return total / words.length;
}

/** The lowest name score a match may have (about one typo in a five-letter word). */
const MIN_SCORE = 0.6;
const MAX_RESULTS = 25;

export function displayName(p: Patient): string {
  const n = p.name?.[0];
  return n?.text ?? [...(n?.given ?? []), n?.family].filter(Boolean).join(' ');
}

function summary(p: Patient, matchedBy: MatchedBy[], score: number): PersonMatch {
  const a = p.address?.[0];
  const address = a ? [...(a.line ?? []), a.city, a.state, a.postalCode].filter(Boolean).join(', ') : undefined;
  return {
    patientId: p.id!,
    name: displayName(p),
    ...(p.birthDate ? { birthDate: p.birthDate } : {}),
    ...(p.telecom?.find((t) => t.system === 'phone' || t.system === 'sms')?.value ? { phone: p.telecom.find((t) => t.system === 'phone' || t.system === 'sms')!.value! } : {}),
    ...(p.telecom?.find((t) => t.system === 'email')?.value ? { email: p.telecom.find((t) => t.system === 'email')!.value! } : {}),
    ...(address ? { address } : {}),
    matchedBy,
    score,
  };
}

export interface PersonSearchDeps {
  db: Queryable;
  repo: Repository;
}

/** The people matching the query, best first (at most 25). */
export async function findPeople(deps: PersonSearchDeps, q: PersonQuery): Promise<PersonMatch[]> {
  const found = new Map<string, { patient: Patient; by: Set<MatchedBy> }>();
  const add = (p: Patient, by: MatchedBy): void => {
    if (!p.id) return;
    const hit = found.get(p.id) ?? { patient: p, by: new Set<MatchedBy>() };
    hit.by.add(by);
    found.set(p.id, hit);
  };
  const patients = async (query: Record<string, string | string[]>): Promise<Patient[]> =>
    (await deps.repo.search<AnyResource>('Patient', { ...query, _count: '50' })).resources as unknown as Patient[];
  const byIds = async (ids: string[], by: MatchedBy): Promise<void> => {
    const unique = [...new Set(ids)].filter(Boolean);
    if (unique.length) for (const p of await patients({ _id: unique.join(',') })) add(p, by);
  };
  // Identifiers first: each names the person outright.
  if (q.bookingReference) {
    const appts = (await deps.repo.search<AnyResource>('Appointment', { identifier: `${BOOKING_REFERENCE_SYSTEM}|${q.bookingReference}` })).resources as unknown as Appointment[];
    await byIds(appts.map((a) => patientIdOf(a) ?? ''), 'bookingReference');
  }
  if (q.registrationId) {
    const r = await deps.db.query<{ patient_id: string }>('SELECT patient_id FROM registrant WHERE id = $1', [q.registrationId]);
    await byIds(r.rows.map((x) => x.patient_id), 'registration');
  }
  if (q.registrationNumber) {
    const r = await deps.db.query<{ patient_id: string }>('SELECT patient_id FROM registrant WHERE number = $1', [q.registrationNumber]);
    await byIds(r.rows.map((x) => x.patient_id), 'registration');
  }
  if (q.email) {
    for (const p of await patients({ email: q.email })) add(p, 'email');
    // A contact another record held stays on the registration only (registrants.ts): found there too.
    const r = await deps.db.query<{ patient_id: string }>('SELECT patient_id FROM registrant WHERE lower(email) = $1 LIMIT 50', [q.email]);
    await byIds(r.rows.map((x) => x.patient_id), 'email');
  }
  if (q.phoneDigits) {
    const variants = phoneVariants(q.phoneDigits);
    for (const p of await patients({ 'phone-digits': variants.join(',') })) add(p, 'phone');
    const r = await deps.db.query<{ patient_id: string }>(
      `SELECT patient_id FROM registrant WHERE regexp_replace(coalesce(phone, ''), '[^0-9]', '', 'g') = ANY($1::text[]) LIMIT 50`, [variants]);
    await byIds(r.rows.map((x) => x.patient_id), 'phone');
  }
  const dated: Record<string, string> = q.birthDate ? { birthdate: q.birthDate } : {};
  if (q.words.length) {
    // Sounds like (Double Metaphone, every word), starts with (every word), and for typos the sound or the first
    // three letters of any one word, kept only when the whole name scores close enough below.
    for (const p of await patients({ phonetic: q.words, ...dated })) add(p, 'name');
    for (const p of await patients({ name: q.words, ...dated })) add(p, 'name');
    if (found.size < MAX_RESULTS) {
      for (const w of q.words) {
        for (const p of await patients({ phonetic: w, ...dated })) add(p, 'name');
        if (fold(w).length >= 3) for (const p of await patients({ name: fold(w).slice(0, 3), ...dated })) add(p, 'name');
      }
    }
  } else if (q.birthDate && !found.size) {
    for (const p of await patients({ birthdate: q.birthDate })) add(p, 'birthDate');
  }
  const out: PersonMatch[] = [];
  for (const { patient, by } of found.values()) {
    if (q.birthDate && patient.birthDate !== q.birthDate) continue;
    if (q.birthDate) by.add('birthDate');
    const score = nameScore(q.words, patient);
    // A name search keeps close names only; an identifier match stands whatever the words.
    if (q.words.length && score < MIN_SCORE && [...by].every((b) => b === 'name' || b === 'birthDate')) continue;
    out.push(summary(patient, [...by], score));
  }
  // A person named by an identifier comes before people whose names merely sound alike.
  const named = (m: PersonMatch): number => (m.matchedBy.some((b) => b !== 'name' && b !== 'birthDate') ? 1 : 0);
  return out.sort((a, b) => named(b) - named(a) || b.score - a.score || a.name.localeCompare(b.name)).slice(0, MAX_RESULTS);
}
