import { GroupQueue } from './group-queue.js';

/** A runGroup that records the groups it was given and answers each item doubled, after a tick. */
function recorder(fail?: (items: number[]) => unknown) {
  const groups: number[][] = [];
  const runGroup = async (items: number[]): Promise<number[]> => {
    groups.push([...items]);
    await new Promise((r) => setImmediate(r));
    const err = fail?.(items);
    if (err) throw err;
    return items.map((i) => i * 2);
  };
  return { groups, runGroup };
}

describe('GroupQueue', () => {
  it('runs an item alone at once when nothing is in flight', async () => {
    const { groups, runGroup } = recorder();
    const q = new GroupQueue<number, number>({ runGroup, maxRunning: 1, maxGroup: 10 });
    expect(await q.submit(21)).toBe(42);
    expect(groups).toEqual([[21]]);
  });

  it('groups what arrives while the running groups are busy, up to maxGroup, and answers each in order', async () => {
    const { groups, runGroup } = recorder();
    const q = new GroupQueue<number, number>({ runGroup, maxRunning: 1, maxGroup: 3 });
    const answers = await Promise.all([1, 2, 3, 4, 5, 6, 7].map((i) => q.submit(i)));
    expect(answers).toEqual([2, 4, 6, 8, 10, 12, 14]);
    expect(groups).toEqual([[1], [2, 3, 4], [5, 6, 7]]);
    expect(q.stats).toEqual({ groups: 3, items: 7 });
  });

  it('keeps incompatible items for a later group', async () => {
    const { groups, runGroup } = recorder();
    const q = new GroupQueue<number, number>({ runGroup, maxRunning: 1, maxGroup: 10, compatible: (a, b) => a % 2 === b % 2 });
    await Promise.all([0, 1, 2, 3, 4].map((i) => q.submit(i)));
    expect(groups).toEqual([[0], [1, 3], [2, 4]]);
  });

  it('runs a failed group again member by member, so only the failing member is refused', async () => {
    const { groups, runGroup } = recorder((items) => (items.includes(13) ? new Error('bad item 13') : undefined));
    const q = new GroupQueue<number, number>({ runGroup, maxRunning: 1, maxGroup: 10 });
    const results = await Promise.allSettled([1, 12, 13, 14].map((i) => q.submit(i)));
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([2, 24, 'bad item 13', 28]);
    expect(groups).toEqual([[1], [12, 13, 14], [12], [13], [14]]);
  });

  it('tries a lone item once more after a transient failure, and no more', async () => {
    let calls = 0;
    const q = new GroupQueue<number, number>({
      runGroup: async (items) => {
        calls++;
        if (calls === 1) throw Object.assign(new Error('deadlock detected'), { code: '40P01' });
        return items;
      },
      maxRunning: 1,
      maxGroup: 10,
      transient: (e) => (e as { code?: string }).code === '40P01',
    });
    expect(await q.submit(5)).toBe(5);
    expect(calls).toBe(2);
    const stubborn = new GroupQueue<number, number>({
      runGroup: () => Promise.reject(Object.assign(new Error('deadlock detected'), { code: '40P01' })),
      maxRunning: 1,
      maxGroup: 10,
      transient: () => true,
    });
    await expect(stubborn.submit(1)).rejects.toThrow('deadlock detected');
  });
});
