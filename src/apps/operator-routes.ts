/**
 * Small hub-side helpers for the sign-up and admin apps (everything else they need is the hub's public API):
 *   GET /signup/invitation/:ticket  -> 303 to /apps/signup/#invitation/<ticket> (invitation mails link here;
 *                                      the ticket moves into the fragment, which browsers never send again)
 *   GET /signup/waiting?lang=xx      -> 303 to /apps/signup/?lang=xx#waiting (the "it is your turn" mail's link)
 *   GET /admin/supply?days=30        operators: doses per location and product (on hand, reserved, available,
 *                                      expiring within `days`, confirmed deliveries still expected), read-only
 * and `signupConfig`, the extra settings the sign-up app reads from its config.json (the waiting-room event to
 * join, the product facts for the next-dose date, the eligibility answer codes).
 */
import express, { type RequestHandler, type Router } from 'express';
import type { Location } from 'fhir/r4';
import { badRequest } from '../fhir/outcomes.js';
import type { Db } from '../store/db.js';
import type { Repository } from '../store/repository-types.js';
import type { TierRules } from '../scheduling/eligibility/rules.js';
import type { ProductCatalogue } from '../scheduling/products.js';

export interface SupplyLot {
  lot: string;
  expiresOn: string | null;
  onHand: number;
  reserved: number;
}

export interface SupplyRow {
  locationId: string;
  locationName: string;
  productCvx: string;
  productName: string;
  onHand: number;
  reserved: number;
  available: number;
  expiringSoon: number;
  expected: number;
  lots: SupplyLot[];
}

interface InventoryLine {
  location_id: string;
  product_cvx: string;
  lot: string;
  expires_on: string | null;
  on_hand: number;
  reserved: number;
  expected: boolean;
}

/** Supply per location and product. Rows with `available_from` set are confirmed deliveries not yet received. */
export async function supplyByLocation(db: Db, repo: Repository, products: ProductCatalogue, days: number, now = new Date()): Promise<SupplyRow[]> {
  const r = await db.query<InventoryLine>(
    `SELECT location_id, product_cvx, lot, to_char(expires_on, 'YYYY-MM-DD') AS expires_on, on_hand, reserved,
            (available_from IS NOT NULL AND available_from > $1) AS expected
       FROM inventory ORDER BY location_id, product_cvx, expires_on NULLS LAST, lot`,
    [now.toISOString()],
  );
  const soon = new Date(now.getTime() + days * 86_400_000).toISOString().slice(0, 10);
  const rows = new Map<string, SupplyRow>();
  for (const l of r.rows) {
    const key = `${l.location_id}|${l.product_cvx}`;
    let row = rows.get(key);
    if (!row) {
      row = { locationId: l.location_id, locationName: l.location_id, productCvx: l.product_cvx, productName: products.get(l.product_cvx)?.name ?? `CVX ${l.product_cvx}`, onHand: 0, reserved: 0, available: 0, expiringSoon: 0, expected: 0, lots: [] };
      rows.set(key, row);
    }
    const onHand = Number(l.on_hand);
    const reserved = Number(l.reserved);
    if (l.expected) {
      row.expected += onHand;
      continue;
    }
    row.onHand += onHand;
    row.reserved += reserved;
    row.available += onHand - reserved;
    if (l.expires_on && l.expires_on <= soon) row.expiringSoon += onHand - reserved;
    row.lots.push({ lot: l.lot, expiresOn: l.expires_on, onHand, reserved });
  }
  const ids = [...new Set([...rows.values()].map((x) => x.locationId))];
  if (ids.length) {
    const found = await repo.search('Location', { _id: ids.join(','), _count: String(Math.min(1000, ids.length)) });
    const names = new Map(found.resources.map((l) => [l.id!, (l as unknown as Location).name ?? l.id!]));
    for (const row of rows.values()) row.locationName = names.get(row.locationId) ?? row.locationId;
  }
  return [...rows.values()].sort((a, b) => a.locationName.localeCompare(b.locationName) || a.productCvx.localeCompare(b.productCvx));
}

export interface OperatorRoutesDeps {
  db: Db;
  repo: Repository;
  products: ProductCatalogue;
  requireAdmin: RequestHandler;
}

export function createAppSupportRouter(deps: OperatorRoutesDeps): Router {
  const router = express.Router();
  router.get('/signup/invitation/:ticket', (req, res) => {
    const ticket = String(req.params.ticket);
    if (!/^[A-Za-z0-9_-]{8,128}$/.test(ticket)) throw badRequest('Not an invitation link');
    res.set('Cache-Control', 'no-store').set('Referrer-Policy', 'no-referrer').redirect(303, `/apps/signup/#invitation/${ticket}`);
  });
  // The admission mail's link: back to the waiting room in the language the person waited in.
  router.get('/signup/waiting', (req, res) => {
    const lang = typeof req.query.lang === 'string' && /^[a-z]{2}$/.test(req.query.lang) ? req.query.lang : undefined;
    res.set('Cache-Control', 'no-store').redirect(303, `/apps/signup/${lang ? `?lang=${lang}` : ''}#waiting`);
  });
  router.get('/admin/supply', deps.requireAdmin, (req, res, next) => {
    const raw = req.query.days;
    if (raw !== undefined && (typeof raw !== 'string' || !/^\d{1,4}$/.test(raw))) return next(badRequest('days must be a whole number of days', 'days'));
    const days = raw === undefined ? 30 : Number(raw);
    supplyByLocation(deps.db, deps.repo, deps.products, days).then((rows) => res.set('Cache-Control', 'no-store').json({ days, rows }), next);
  });
  return router;
}

export interface SignupAppConfig {
  /** The waiting-room event to join (the latest one not closed), if any. */
  waitingRoomEventId?: string;
  /** Whether the hub emails people when they are admitted (so the page may tell them they can leave). */
  notifyOnAdmission: boolean;
  products: Array<{ cvx: string; name: string; dosesInSeries: number; minIntervalDays: number[]; recommendedIntervalDays: number[]; graceDays: number }>;
  occupations: Record<string, string>;
  conditions: Record<string, string>;
  tiers: Record<string, string>;
}

export async function signupConfig(db: Db, products: ProductCatalogue, rules: TierRules, opts: { notifyOnAdmission?: boolean } = {}): Promise<SignupAppConfig> {
  let eventId: string | undefined;
  try {
    eventId = (await db.query<{ id: string }>('SELECT id FROM waiting_room_event WHERE closed_at IS NULL ORDER BY opens_at DESC, id LIMIT 1')).rows[0]?.id;
  } catch {
    eventId = undefined; // opening night not migrated on this hub: no waiting room
  }
  return {
    ...(eventId ? { waitingRoomEventId: eventId } : {}),
    notifyOnAdmission: opts.notifyOnAdmission ?? false,
    // Current products only: the sign-up page asks which one a person comes for, and discontinued ones are not offered.
    products: products.products.filter((p) => p.current).map((p) => ({ cvx: p.cvx, name: p.name, dosesInSeries: p.dosesInSeries, minIntervalDays: p.minIntervalDays, recommendedIntervalDays: p.recommendedIntervalDays, graceDays: p.graceDays })),
    occupations: rules.occupationGroups,
    conditions: rules.riskConditions,
    tiers: Object.fromEntries(rules.tiers.map((t) => [t.code, t.display])),
  };
}
