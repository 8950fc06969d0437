import { runLottery, seedCommitment, snapshotHash, uniformFor, verifyDraw, type DrawEntry, type LotteryInputs } from './lottery.js';

function people(n: number, tier: string, postalCode: string, prefix = tier): DrawEntry[] {
  return Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${postalCode}-${String(i).padStart(4, '0')}`, tier, postalCode }));
}

/** Pearson chi-square statistic of observed counts against expected counts. */
function chiSquare(observed: number[], expected: number[]): number {
  return observed.reduce((s, o, i) => s + (o - expected[i]!) ** 2 / expected[i]!, 0);
}

const base: Omit<LotteryInputs, 'seed' | 'snapshot' | 'count'> = {
  tierOrder: ['1a', '1b', '1c'],
  weights: null,
  defaultWeight: 1,
};

describe('runLottery', () => {
  const snapshot = [...people(30, '1b', '02101'), ...people(20, '1a', '02119'), ...people(40, '1c', '02150')];

  it('reproduces exactly from seed and snapshot, whatever order the snapshot comes in', () => {
    const a = runLottery({ ...base, seed: 'abc', snapshot, count: 35 });
    const b = runLottery({ ...base, seed: 'abc', snapshot: [...snapshot].reverse(), count: 35 });
    expect(b).toEqual(a);
    expect(a.snapshotHash).toBe(snapshotHash(snapshot));
    expect(runLottery({ ...base, seed: 'abd', snapshot, count: 35 }).selected).not.toEqual(a.selected);
  });

  it('serves tiers in order: a lower tier gets nothing until the higher one is exhausted', () => {
    const r = runLottery({ ...base, seed: 's1', snapshot, count: 35 });
    const tiers = r.selected.map((id) => id.split('-')[0]);
    expect(tiers.filter((t) => t === '1a')).toHaveLength(20);
    expect(tiers.filter((t) => t === '1b')).toHaveLength(15);
    expect(tiers.slice(0, 20).every((t) => t === '1a')).toBe(true);
    expect(tiers).not.toContain('1c');
    expect(new Set(r.selected).size).toBe(35);
  });

  it('never draws tiers outside the tier order and stops at the pool size', () => {
    const r = runLottery({ ...base, tierOrder: ['1c'], seed: 's', snapshot, count: 1000 });
    expect(r.selected).toHaveLength(40);
  });

  it("keeps a person's luck independent of who else registered", () => {
    const u = uniformFor('seed', '1a-02119-0001');
    expect(u).toBeGreaterThan(0);
    expect(u).toBeLessThan(1);
    expect(uniformFor('seed', '1a-02119-0001')).toBe(u);
  });

  it('is uniform within a tier without weights (chi-square over 20,000 draws, df=9, p=0.01 limit 21.67)', () => {
    const ten = people(10, '1b', '02101');
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 20_000; i++) {
      const [winner] = runLottery({ ...base, seed: `uniform-${i}`, snapshot: ten, count: 1 }).selected;
      counts[ten.findIndex((p) => p.id === winner)]! += 1;
    }
    expect(chiSquare(counts, new Array<number>(10).fill(2000))).toBeLessThan(21.67);
  });

  it('honours equity weights: a weight-2 area wins twice as often per person (chi-square, df=1, p=0.01 limit 6.63)', () => {
    const snap = [...people(5, '1b', '02119', 'v'), ...people(5, '1b', '02108', 'w')];
    const weights = { '02119': 2, '02108': 1 };
    let heavy = 0;
    const draws = 12_000;
    for (let i = 0; i < draws; i++) {
      const [winner] = runLottery({ ...base, weights, seed: `weighted-${i}`, snapshot: snap, count: 1 }).selected;
      if (winner!.startsWith('v-')) heavy++;
    }
    // P(heavy area) = 5*2 / (5*2 + 5*1) = 2/3 for a single invitation.
    expect(chiSquare([heavy, draws - heavy], [(draws * 2) / 3, draws / 3])).toBeLessThan(6.63);
  });

  it('matches successive weighted sampling for several invitations (inclusion frequency per area)', () => {
    // Two people, weights 3 and 1, one drawn: P(first) = 3/4. Of three (3,1,1) drawing two:
    // P(heavy included) = 3/5 + 2 * (1/5)(3/4) = 0.9.
    const snap = [
      { id: 'h', tier: '1b', postalCode: 'H' },
      { id: 'l1', tier: '1b', postalCode: 'L' },
      { id: 'l2', tier: '1b', postalCode: 'L' },
    ];
    let included = 0;
    const draws = 10_000;
    for (let i = 0; i < draws; i++) {
      const r = runLottery({ ...base, weights: { H: 3, L: 1 }, seed: `succ-${i}`, snapshot: snap, count: 2 });
      if (r.selected.includes('h')) included++;
    }
    expect(chiSquare([included, draws - included], [draws * 0.9, draws * 0.1])).toBeLessThan(6.63);
  });
});

describe('verifyDraw', () => {
  const snapshot = people(50, '1b', '02101');
  const seed = 'f'.repeat(64);
  const inputs: LotteryInputs = { ...base, seed, snapshot, count: 10 };
  const result = runLottery(inputs);
  const published = { ...inputs, seedHash: seedCommitment(seed), ...result };

  it('accepts an honest draw', () => {
    expect(verifyDraw(published)).toEqual({ ok: true, problems: [] });
  });
  it('catches a seed that does not match the commitment', () => {
    expect(verifyDraw({ ...published, seed: 'e'.repeat(64) }).problems).toEqual(
      expect.arrayContaining([expect.stringMatching(/commitment/), expect.stringMatching(/selection differs/)]),
    );
  });
  it('catches a tampered snapshot or selection', () => {
    expect(verifyDraw({ ...published, snapshot: snapshot.slice(1) }).ok).toBe(false);
    expect(verifyDraw({ ...published, selected: [...result.selected.slice(1), snapshot[0]!.id] }).problems).toEqual([
      'recomputed selection differs from the published selection',
    ]);
  });
});
