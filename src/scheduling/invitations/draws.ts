/**
 * Running a wave's draw against the database: commit (publish sha256(seed)), then draw (snapshot the pool,
 * select with the pure lottery, issue tickets, queue invitations (mail, SMS, or a letter for the front desk to send:
 * tickets.ts invitationRoute), publish seed + inputs) in one transaction.
 * Every commitment stays in lottery_draw, so an operator re-committing until a favourable seed shows is visible.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { badRequest, fhirError } from '../../fhir/outcomes.js';
import { enqueueMail } from '../../notify/outbox.js';
import type { Db, Queryable } from '../../store/db.js';
import type { TierRules } from '../eligibility/rules.js';
import { LOTTERY_ALGORITHM, newSeed, runLottery, seedCommitment, type DrawEntry, type PublishedDraw } from './lottery.js';
import { DEFAULT_TICKET_POLICY, invitationLink, invitationRoute, issueTicket, type Reachable, type TicketPolicy } from './tickets.js';
import { queueInvitationLetter } from './letters.js';
import { matchesCohort, type CohortCriteria } from './waves.js';
import { mailLanguage } from '../../notify/mail-locale.js';
import { invitationMail, invitationText } from '../../notify/public-mail.js';

export interface EquityIndex {
  version: string;
  defaultWeight: number;
  weights: Record<string, number>;
}

const DEFAULT_EQUITY_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../profiles/equity-index.json');

export function loadEquityIndex(file = DEFAULT_EQUITY_FILE): EquityIndex {
  const j = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<EquityIndex>;
  const weights = j.weights ?? {};
  for (const [k, v] of Object.entries(weights)) {
    if (typeof v !== 'number' || !(v > 0)) throw new Error(`${file}: weight for ${k} must be a positive number`);
  }
  const defaultWeight = j.defaultWeight ?? 1;
  if (!(defaultWeight > 0)) throw new Error(`${file}: defaultWeight must be positive`);
  return { version: String(j.version ?? 'unversioned'), defaultWeight, weights };
}

export interface DrawPlan {
  label: string;
  invitations: number;
  /** Tier codes to draw from, highest first; defaults to every tier in the rule set. */
  tierOrder?: string[];
  /** Restrict the pool to people in this cohort window, and bind their tickets to it. */
  windowId?: string;
  useEquityWeights: boolean;
  /** An externally supplied seed (e.g. from a public randomness beacon); otherwise 256 random bits. */
  seed?: string;
}

export interface DrawDeps {
  db: Db;
  rules: TierRules;
  equity: EquityIndex;
  /** Base URL of the sign-up pages, for the invitation link. */
  publicBaseUrl: string;
  policy?: TicketPolicy;
  /** The zone the invitation's expiry is written in (HUB_TIME_ZONE; UTC when not given). */
  timeZone?: string;
  /**
   * Where texts are addressed (the config's smsEmailGateway: `sms:+{number}` with the HTTP SMS gateway, or an
   * email-to-SMS template). Without it a phone-only person drawn is invited by letter, through the front desk.
   */
  smsAddressTemplate?: string;
}

export async function commitDraw(deps: Pick<DrawDeps, 'db' | 'rules'>, plan: DrawPlan, now = new Date()): Promise<{ id: string; seedHash: string; committedAt: string }> {
  if (!plan.label) throw badRequest('label is required', 'label');
  if (!Number.isInteger(plan.invitations) || plan.invitations < 1) throw badRequest('invitations must be a positive integer', 'invitations');
  const tierOrder = plan.tierOrder ?? deps.rules.tiers.map((t) => t.code);
  const unknown = tierOrder.filter((t) => !deps.rules.tiers.some((r) => r.code === t));
  if (unknown.length) throw badRequest(`unknown tier(s) ${unknown.join(', ')}`, 'tierOrder');
  const seed = plan.seed ?? newSeed();
  const id = crypto.randomUUID();
  const seedHash = seedCommitment(seed);
  await deps.db.query(
    `INSERT INTO lottery_draw (id, label, status, invitations, tier_order, window_id, use_equity_weights, seed_hash, seed, committed_at, algorithm)
     VALUES ($1, $2, 'committed', $3, $4::jsonb, $5, $6, $7, $8, $9, $10)`,
    [id, plan.label, plan.invitations, JSON.stringify(tierOrder), plan.windowId ?? null, plan.useEquityWeights, seedHash, seed, now.toISOString(), LOTTERY_ALGORITHM],
  );
  return { id, seedHash, committedAt: now.toISOString() };
}

/** The pool: registered, in a drawn tier, not booked, holding no live invitation (expired ones return here). */
async function poolSnapshot(tx: Queryable, tierOrder: string[], criteria: CohortCriteria | undefined, now: Date): Promise<DrawEntry[]> {
  const r = await tx.query<{ id: string; tier: string; postal_code: string; birth_date: string; answers: { employerSite?: string } }>(
    `SELECT r.id, r.tier, r.postal_code, r.birth_date, r.answers FROM registrant r
      WHERE r.status <> 'booked' AND r.tier = ANY($1::text[])
        AND NOT EXISTS (SELECT 1 FROM invitation_ticket t WHERE t.registrant_id = r.id
                         AND (t.status = 'used' OR (t.status IN ('issued', 'claimed') AND t.expires_at > $2)))
      ORDER BY r.id`,
    [tierOrder, now.toISOString()],
  );
  return r.rows
    .filter((x) => !criteria || matchesCohort(criteria, { birthDate: x.birth_date, tier: x.tier, employerSite: x.answers?.employerSite }))
    .map((x) => ({ id: x.id, tier: x.tier, postalCode: x.postal_code }));
}

interface DrawRow {
  id: string;
  label: string;
  status: 'committed' | 'drawn';
  invitations: number;
  tier_order: string[];
  window_id: string | null;
  use_equity_weights: boolean;
  seed_hash: string;
  seed: string;
  committed_at: string;
  drawn_at: string | null;
  snapshot: DrawEntry[] | null;
  snapshot_hash: string | null;
  /** The weights as used, with their default, so a later change of the index file cannot alter verification. */
  weights: { defaultWeight: number; byPostalCode: Record<string, number> } | null;
  selected: string[] | null;
  algorithm: string;
}

/** Runs a committed draw: selection, tickets and invitation mails commit together or not at all. */
export async function runDraw(deps: DrawDeps, drawId: string, now = new Date()): Promise<PublishedDrawView> {
  const policy = deps.policy ?? DEFAULT_TICKET_POLICY;
  return deps.db.transaction(async (tx) => {
    const d = (await tx.query<DrawRow>('SELECT * FROM lottery_draw WHERE id = $1 FOR UPDATE', [drawId])).rows[0];
    if (!d) throw fhirError('NOT_FOUND', `draw ${drawId} not found`);
    if (d.status !== 'committed') throw fhirError('VERSION_CONFLICT', `draw ${drawId} has already been run`);
    if (new Date(d.committed_at).getTime() >= now.getTime()) throw badRequest('a draw runs after its commitment was published');
    let criteria: CohortCriteria | undefined;
    if (d.window_id) {
      criteria = (await tx.query<{ criteria: CohortCriteria }>('SELECT criteria FROM cohort_window WHERE id = $1', [d.window_id])).rows[0]?.criteria;
    }
    const snapshot = await poolSnapshot(tx, d.tier_order, criteria, now);
    const weights = d.use_equity_weights ? deps.equity.weights : null;
    const { selected, snapshotHash } = runLottery({
      seed: d.seed, snapshot, tierOrder: d.tier_order, weights, defaultWeight: deps.equity.defaultWeight, count: d.invitations,
    });
    const usedWeights = weights ? { defaultWeight: deps.equity.defaultWeight, byPostalCode: weights } : null;
    for (const registrantId of selected) {
      const ticket = await issueTicket(tx, { registrantId, drawId, windowId: d.window_id ?? undefined, now, policy });
      const person = (await tx.query<Reachable & { language: string | null }>(
        'SELECT email, phone, confirmation_by, language FROM registrant WHERE id = $1', [registrantId])).rows[0];
      if (!person) continue;
      const route = invitationRoute(person, deps.smsAddressTemplate);
      if (route.via === 'letter') {
        // Post, collect at the clinic, or a phone with no SMS gateway: queued for staff in this same transaction, so
        // nobody drawn goes untold (issue 21). No link or secret goes on it: staff book at the desk with the invitation.
        await queueInvitationLetter(tx, { ticketRef: ticket.ref, registrantId, channel: route.channel, why: route.why, now });
        continue;
      }
      const language = mailLanguage(person.language);
      const link = invitationLink(deps.publicBaseUrl, ticket.ticketId);
      const timeZone = deps.timeZone ?? 'UTC';
      await enqueueMail(tx, {
        kind: 'invitation',
        to: route.to,
        ...(route.via === 'sms'
          ? invitationText(language, { link, expiresAt: ticket.expiresAt, timeZone })
          : invitationMail(language, { link, expiresAt: ticket.expiresAt, timeZone, askBirthDate: policy.secondFactor === 'dob+code' })),
        // One invitation message per ticket, whichever way it goes.
        dedupeKey: `invitation:${ticket.ref}`,
        mailClass: 'bulk',
        payload: { drawId, ticketRef: ticket.ref, registrantId, channel: route.via },
        // The body holds the ticket secret: blank it once sent.
        redactAfterSend: true,
      });
    }
    await tx.query(
      `UPDATE lottery_draw SET status = 'drawn', drawn_at = $2, snapshot = $3::jsonb, snapshot_hash = $4, weights = $5::jsonb, selected = $6::jsonb
        WHERE id = $1`,
      [drawId, now.toISOString(), JSON.stringify(snapshot), snapshotHash, usedWeights ? JSON.stringify(usedWeights) : null, JSON.stringify(selected)],
    );
    return toView({ ...d, status: 'drawn', drawn_at: now.toISOString(), snapshot, snapshot_hash: snapshotHash, weights: usedWeights, selected });
  });
}

/** What anyone may see: before the draw, the commitment only; after it, everything needed to recompute it. */
export interface PublishedDrawView {
  id: string;
  label: string;
  status: 'committed' | 'drawn';
  algorithm: string;
  invitations: number;
  tierOrder: string[];
  windowId: string | null;
  seedHash: string;
  committedAt: string;
  drawnAt?: string;
  /** Present once drawn: the inputs of `verifyDraw`. */
  published?: PublishedDraw;
}

function toView(d: DrawRow): PublishedDrawView {
  const view: PublishedDrawView = {
    id: d.id, label: d.label, status: d.status, algorithm: d.algorithm, invitations: d.invitations, tierOrder: d.tier_order,
    windowId: d.window_id, seedHash: d.seed_hash, committedAt: d.committed_at,
  };
  if (d.status === 'drawn') {
    view.drawnAt = d.drawn_at ?? undefined;
    view.published = {
      seed: d.seed, seedHash: d.seed_hash, snapshot: d.snapshot ?? [], snapshotHash: d.snapshot_hash ?? '', tierOrder: d.tier_order,
      weights: d.weights?.byPostalCode ?? null, defaultWeight: d.weights?.defaultWeight ?? 1, count: d.invitations, selected: d.selected ?? [],
    };
  }
  return view;
}

export async function getDraw(db: Queryable, drawId: string): Promise<PublishedDrawView> {
  const d = (await db.query<DrawRow>('SELECT * FROM lottery_draw WHERE id = $1', [drawId])).rows[0];
  if (!d) throw fhirError('NOT_FOUND', `draw ${drawId} not found`);
  return toView(d);
}
