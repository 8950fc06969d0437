/**
 * `POST /signup/assistant`: the eligibility assistant's JSON API (the sign-up app's "Am I eligible?" page is one
 * front end; a county's own site or a call-centre tool can be another). The body is the person's answers; the
 * answer is built by `answer()` from the hub's own rules, waves and live clinic places. Nothing is stored or
 * logged about the person (POST keeps health answers out of URLs and access logs); only a per-IP rate limit applies.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Location } from 'fhir/r4';
import { badRequest, isOperationOutcomeError } from '../../fhir/outcomes.js';
import { sendOutcomeError } from '../../http/errors.js';
import { addressLine } from '../../notify/mail-locale.js';
import type { Db } from '../../store/db.js';
import type { Repository } from '../../store/repository-types.js';
import type { TierRules } from '../eligibility/rules.js';
import { listWindows } from '../invitations/waves.js';
import type { ProductCatalogue } from '../products.js';
import { LIVE_SLOT_SQL, toSlotState } from '../slot-store.js';
import { freePlaces } from '../slot-view.js';
import { rateLimit, TokenBucketLimiter } from '../waiting-room/shedding.js';
import { answer, type AssistantQuestions, type ClinicOffer } from './answer.js';
import { todayIn, type Forecaster } from '../../forecast/forecaster.js';

export interface AssistantRouterDeps {
  db: Db;
  repo: Repository;
  rules: TierRules;
  products: ProductCatalogue;
  perIpPerMinute: number;
  /** Days of clinic places the answer covers. */
  horizonDays?: number;
  /** How long the clinic offer snapshot is reused (opening night asks this thousands of times a minute). */
  cacheMs?: number;
  /** The hub's forecaster: the next dose by CDSi when it has the engine, else the product rule. */
  forecaster?: Forecaster;
  /** The hub's time zone: CDSi counts whole days, from today there. */
  timeZone?: string;
  now?: () => Date;
}

const FHIR_DATE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
const DAY_MS = 86_400_000;

/** The answers, type-checked and range-checked; every refusal names the field. */
export function parseQuestions(body: unknown, rules: TierRules, now: Date): AssistantQuestions {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('The body must be a JSON object', '');
  const b = body as Record<string, unknown>;
  const q: AssistantQuestions = {};
  const today = now.toISOString().slice(0, 10);
  if (b.birthDate !== undefined && b.birthDate !== '') {
    if (typeof b.birthDate !== 'string' || !FHIR_DATE.test(b.birthDate) || Number.isNaN(Date.parse(b.birthDate))) throw badRequest('birthDate must be a date YYYY-MM-DD', 'birthDate');
    if (b.birthDate > today) throw badRequest('birthDate is in the future', 'birthDate');
    q.birthDate = b.birthDate;
  } else if (b.birthYear !== undefined && b.birthYear !== '') {
    const y = Number(b.birthYear);
    if (!Number.isInteger(y) || y < 1900 || y > now.getUTCFullYear()) throw badRequest(`birthYear must be a year from 1900 to ${now.getUTCFullYear()}`, 'birthYear');
    q.birthYear = y;
  } else if (b.age !== undefined && b.age !== '') {
    const a = Number(b.age);
    if (!Number.isInteger(a) || a < 0 || a > 125) throw badRequest('age must be whole years from 0 to 125', 'age');
    q.age = a;
  } else {
    throw badRequest('Give birthDate, birthYear or age', 'birthYear');
  }
  if (b.postalCode !== undefined && b.postalCode !== '') {
    if (typeof b.postalCode !== 'string' || !/^[A-Za-z0-9 -]{2,10}$/.test(b.postalCode.trim())) throw badRequest('postalCode must be 2-10 letters or digits', 'postalCode');
    q.postalCode = b.postalCode.trim();
  }
  if (b.occupation !== undefined && b.occupation !== '') {
    if (typeof b.occupation !== 'string' || !(b.occupation in rules.occupationGroups)) throw badRequest(`Unknown occupation group ${String(b.occupation)}`, 'occupation');
    q.occupation = b.occupation;
  }
  if (b.conditions !== undefined) {
    if (!Array.isArray(b.conditions)) throw badRequest('conditions must be an array of codes', 'conditions');
    q.conditions = b.conditions.map((c, i) => {
      if (typeof c !== 'string' || !(c in rules.riskConditions)) throw badRequest(`Unknown risk condition ${String(c)}`, `conditions[${i}]`);
      return c;
    });
  }
  if (b.doses !== undefined) {
    if (!Array.isArray(b.doses) || b.doses.length > 20) throw badRequest('doses must be an array of at most 20 {cvx, date}', 'doses');
    q.doses = b.doses.map((d, i) => {
      const o = (typeof d === 'object' && d !== null ? d : {}) as Record<string, unknown>;
      if (typeof o.cvx !== 'string' || !/^\d{1,3}$/.test(o.cvx)) throw badRequest('cvx must be a CVX code (digits)', `doses[${i}].cvx`);
      if (typeof o.date !== 'string' || !FHIR_DATE.test(o.date) || Number.isNaN(Date.parse(o.date))) throw badRequest('date must be a date YYYY-MM-DD', `doses[${i}].date`);
      if (o.date > today) throw badRequest('A dose already had cannot be in the future', `doses[${i}].date`);
      const born = q.birthDate ?? (q.birthYear !== undefined ? `${q.birthYear}-01-01` : undefined);
      if (born && o.date < born) throw badRequest('A dose cannot be before the date of birth', `doses[${i}].date`);
      return { cvx: o.cvx, date: o.date };
    });
  }
  return q;
}

/** Live places per clinic and product over the coming days, from the same rows `$find` and `$bulk-publish` read. */
export async function clinicOffers(db: Db, repo: Repository, products: ProductCatalogue, now: Date, horizonDays: number): Promise<ClinicOffer[]> {
  const until = new Date(now.getTime() + horizonDays * DAY_MS);
  const rows = await db.query<Parameters<typeof toSlotState>[0]>(
    `${LIVE_SLOT_SQL} WHERE s.start_at > $1 AND s.start_at < $2 ORDER BY s.start_at, s.id`,
    [now.toISOString(), until.toISOString()],
  );
  // Places are counted per slot, doses per clinic and product: the same dose in stock backs every slot of its day
  // (and of later days), so a day never offers more places than doses, nor the fortnight more than the most
  // doses reservable by its last day.
  type Offer = ClinicOffer['products'][number] & { doseCap: number; dayCaps: Map<string, number> };
  const byClinic = new Map<string, Map<string, Offer>>();
  for (const row of rows.rows) {
    const s = toSlotState(row);
    const free = freePlaces(s);
    if (free <= 0 || products.get(s.productCvx)?.current === false) continue;
    const perProduct = byClinic.get(s.locationId) ?? new Map<string, Offer>();
    byClinic.set(s.locationId, perProduct);
    const start = new Date(s.start).toISOString();
    const p: Offer = perProduct.get(s.productCvx) ?? { cvx: s.productCvx, freePlaces: 0, firstFree: start, days: [], doseCap: 0, dayCaps: new Map() };
    perProduct.set(s.productCvx, p);
    const day = start.slice(0, 10);
    const cap = s.supplyLeft ?? Number.MAX_SAFE_INTEGER;
    p.doseCap = Math.max(p.doseCap, cap);
    p.dayCaps.set(day, Math.max(p.dayCaps.get(day) ?? 0, cap));
    const last = p.days[p.days.length - 1];
    if (last?.date === day) last.freePlaces += free;
    else p.days.push({ date: day, freePlaces: free });
  }
  const offersOf = (perProduct: Map<string, Offer>): ClinicOffer['products'] =>
    [...perProduct.values()].map(({ doseCap, dayCaps, ...p }) => {
      const days = p.days.map((d) => ({ date: d.date, freePlaces: Math.min(d.freePlaces, dayCaps.get(d.date)!) }));
      return { ...p, days, freePlaces: Math.min(doseCap, days.reduce((n, d) => n + d.freePlaces, 0)) };
    });
  const out: ClinicOffer[] = [];
  for (const [id, perProduct] of byClinic) {
    const l = await repo.readOptional<Location & { [k: string]: unknown }>('Location', id);
    if (!l || l.status === 'inactive') continue;
    out.push({
      id,
      name: l.name ?? id,
      address: addressLine(l),
      postalCode: l.address?.postalCode,
      position: l.position ? { latitude: l.position.latitude, longitude: l.position.longitude } : undefined,
      phone: l.telecom?.find((t) => t.system === 'phone')?.value,
      products: offersOf(perProduct).sort((a, b) => b.freePlaces - a.freePlaces),
    });
  }
  return out;
}

export function createAssistantRouter(deps: AssistantRouterDeps): Router {
  const now = deps.now ?? (() => new Date());
  const horizonDays = deps.horizonDays ?? 14;
  const cacheMs = deps.cacheMs ?? 30_000;
  const router = express.Router();
  const json = express.json({ limit: '8kb' });
  const limit = rateLimit('assistant-ip', new TokenBucketLimiter(deps.perIpPerMinute, Math.max(5, Math.ceil(deps.perIpPerMinute / 6))), (req) => req.ip ?? 'unknown');
  let cached: { at: number; offers: Promise<ClinicOffer[]> } | undefined;
  const offers = (at: Date): Promise<ClinicOffer[]> => {
    if (!cached || at.getTime() - cached.at > cacheMs) {
      const p = clinicOffers(deps.db, deps.repo, deps.products, at, horizonDays);
      cached = { at: at.getTime(), offers: p };
      p.catch(() => { cached = undefined; });
    }
    return cached.offers;
  };

  router.post('/signup/assistant', limit, json, (req: Request, res: Response, next: NextFunction) => {
    const at = now();
    (async () => {
      const q = parseQuestions(req.body, deps.rules, at);
      const [windows, clinics] = await Promise.all([listWindows(deps.db), offers(at)]);
      const today = todayIn(deps.timeZone ?? 'UTC', at);
      const body = answer(q, { rules: deps.rules, windows, clinics, products: deps.products, horizonDays, now: at, forecaster: deps.forecaster, today });
      res.set('Cache-Control', 'no-store').json(body);
    })().catch((e: unknown) => (isOperationOutcomeError(e) ? sendOutcomeError(res, e) : next(e)));
  });
  return router;
}
