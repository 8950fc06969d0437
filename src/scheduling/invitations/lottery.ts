/**
 * The verifiable invitation lottery, as pure functions anyone can rerun.
 *
 * Before the draw the hub publishes `sha256(seed)`; after it, the seed. The selection is a deterministic function
 * of (seed, the registrant snapshot sorted by id, the tier order, the weights, N):
 *   - tiers are served in the given order; a tier is exhausted before the next one gets any invitation;
 *   - within a tier, weighted random sampling without replacement by Efraimidis & Spirakis (2006): each person
 *     gets the key u^(1/w) (compared as ln(u)/w), where u is drawn from HMAC-SHA256(key = seed, message = id);
 *     the highest keys win. With equal weights this is a uniform random sample.
 * Because u depends only on (seed, id), adding or removing other people never changes anyone else's key.
 * @see https://doi.org/10.1016/j.ipl.2005.11.003 (Weighted random sampling with a reservoir)
 */
import crypto from 'node:crypto';

export const LOTTERY_ALGORITHM =
  'vaxhub-lottery-v1: tiers in order; within a tier top-N by ln(u)/w, u = (first 53 bits of HMAC-SHA256(seed, id) + 0.5) / 2^53, ties by id';

/** One registrant as the lottery sees them: no names, no contact details. */
export interface DrawEntry {
  id: string;
  tier: string;
  postalCode: string;
}

export interface LotteryInputs {
  /** The revealed seed (any string; the hub uses 64 hex characters from a CSPRNG). */
  seed: string;
  snapshot: DrawEntry[];
  /** Tier codes, highest priority first; entries in other tiers are not drawn. */
  tierOrder: string[];
  /** Weight by postal code; null for no equity weighting. */
  weights: Record<string, number> | null;
  /** Weight for postal codes not in `weights`. */
  defaultWeight: number;
  /** Number of invitations. */
  count: number;
}

export interface LotteryResult {
  /** Registrant ids in selection order (tier by tier, best key first). */
  selected: string[];
  snapshotHash: string;
}

/** The commitment published before the draw. */
export function seedCommitment(seed: string): string {
  return crypto.createHash('sha256').update(seed, 'utf8').digest('hex');
}

/** A fresh 256-bit seed from the operating system's CSPRNG. */
export function newSeed(): string {
  return crypto.randomBytes(32).toString('hex');
}

/** Sorted by id, fields in a fixed order: the canonical form that is hashed and published. */
export function canonicalSnapshot(entries: DrawEntry[]): DrawEntry[] {
  const sorted = entries
    .map((e) => ({ id: String(e.id), tier: String(e.tier), postalCode: String(e.postalCode) }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.id === sorted[i - 1]!.id) throw new TypeError(`duplicate registrant ${sorted[i]!.id} in snapshot`);
  }
  return sorted;
}

export function snapshotHash(snapshot: DrawEntry[]): string {
  return crypto.createHash('sha256').update(JSON.stringify(canonicalSnapshot(snapshot)), 'utf8').digest('hex');
}

/** The uniform variate u in (0, 1) for one registrant. */
export function uniformFor(seed: string, id: string): number {
  const mac = crypto.createHmac('sha256', seed).update(id, 'utf8').digest();
  // 53 bits: the top 21 bits of the first word and all 32 of the second, so every value is exact in a double.
  const hi = mac.readUInt32BE(0) >>> 11;
  const lo = mac.readUInt32BE(4);
  return (hi * 2 ** 32 + lo + 0.5) / 2 ** 53;
}

/** Efraimidis-Spirakis key ln(u)/w (same order as u^(1/w), without underflow for large weights). */
export function lotteryKey(seed: string, id: string, weight: number): number {
  return Math.log(uniformFor(seed, id)) / weight;
}

export function weightOf(postalCode: string, weights: Record<string, number> | null, defaultWeight: number): number {
  const w = weights ? (weights[postalCode] ?? defaultWeight) : 1;
  if (!(w > 0) || !Number.isFinite(w)) throw new TypeError(`weight for ${postalCode} must be a positive number`);
  return w;
}

export function runLottery(inputs: LotteryInputs): LotteryResult {
  if (!Number.isInteger(inputs.count) || inputs.count < 0) throw new TypeError('count must be a non-negative integer');
  const snapshot = canonicalSnapshot(inputs.snapshot);
  const selected: string[] = [];
  for (const tier of inputs.tierOrder) {
    if (selected.length >= inputs.count) break;
    const keyed = snapshot
      .filter((e) => e.tier === tier)
      .map((e) => ({ id: e.id, key: lotteryKey(inputs.seed, e.id, weightOf(e.postalCode, inputs.weights, inputs.defaultWeight)) }))
      .sort((a, b) => b.key - a.key || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const k of keyed) {
      if (selected.length >= inputs.count) break;
      selected.push(k.id);
    }
  }
  return { selected, snapshotHash: snapshotHash(snapshot) };
}

/** A draw as published after it ran. */
export interface PublishedDraw extends LotteryInputs {
  seedHash: string;
  snapshotHash: string;
  selected: string[];
}

/** Recomputes a published draw from its inputs; every mismatch is listed. */
export function verifyDraw(draw: PublishedDraw): { ok: boolean; problems: string[] } {
  const problems: string[] = [];
  if (seedCommitment(draw.seed) !== draw.seedHash) problems.push('sha256(seed) does not match the published commitment');
  let result: LotteryResult | undefined;
  try {
    result = runLottery(draw);
  } catch (e) {
    problems.push(`inputs cannot be replayed: ${(e as Error).message}`);
  }
  if (result) {
    if (result.snapshotHash !== draw.snapshotHash) problems.push('snapshot hash does not match the published snapshot');
    if (JSON.stringify(result.selected) !== JSON.stringify(draw.selected)) {
      problems.push('recomputed selection differs from the published selection');
    }
  }
  return { ok: problems.length === 0, problems };
}
