/**
 * Groups work that arrives together into one database statement: while `maxRunning` groups are in flight, newly
 * submitted items wait, and leave together (up to `maxGroup`) when a group finishes. With no load every item runs
 * alone at once; under load the groups grow, and the database's cost per item (per statement, per commit, per
 * round trip) falls as the load rises, which is when it matters.
 *
 * A group that fails as a whole is run again member by member, so one member's failure (bad data, a deadlock the
 * database broke by aborting the statement) reaches that member only; `runGroup` must therefore leave nothing
 * behind when it throws, which one statement in autocommit guarantees.
 */
export interface GroupQueueOptions<T> {
  /** Runs a group; answers one result per item, in order. */
  runGroup: (items: T[]) => Promise<unknown[]>;
  maxRunning: number;
  maxGroup: number;
  /** Items that may share a group with the first waiting one (default: any). */
  compatible?: (first: T, other: T) => boolean;
  /** A failure worth one more try even for a group of one (a deadlock the database broke). */
  transient?: (e: unknown) => boolean;
  /** Told each group's size as it starts (metrics). */
  onGroup?: (size: number) => void;
}

interface Waiting<T> {
  item: T;
  resolve: (r: unknown) => void;
  reject: (e: unknown) => void;
}

export class GroupQueue<T, R> {
  private readonly waiting: Array<Waiting<T>> = [];
  private running = 0;
  /** Groups run and items in them, since the queue was made. */
  readonly stats = { groups: 0, items: 0 };

  constructor(private readonly opts: GroupQueueOptions<T>) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.waiting.push({ item, resolve: resolve as (r: unknown) => void, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.opts.maxRunning && this.waiting.length > 0) {
      const group: Array<Waiting<T>> = this.waiting.splice(0, 1);
      const first = group[0]!.item;
      for (let k = 0; k < this.waiting.length && group.length < this.opts.maxGroup; ) {
        if (!this.opts.compatible || this.opts.compatible(first, this.waiting[k]!.item)) group.push(...this.waiting.splice(k, 1));
        else k++;
      }
      this.running++;
      this.stats.groups++;
      this.stats.items += group.length;
      this.opts.onGroup?.(group.length);
      void this.run(group).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private async run(group: Array<Waiting<T>>): Promise<void> {
    try {
      const results = await this.opts.runGroup(group.map((w) => w.item));
      group.forEach((w, k) => w.resolve(results[k]));
    } catch (e) {
      if (group.length === 1 && !this.opts.transient?.(e)) {
        group[0]!.reject(e);
        return;
      }
      for (const w of group) {
        await this.opts.runGroup([w.item]).then(
          (r) => w.resolve(r[0]),
          (err: unknown) => w.reject(err),
        );
      }
    }
  }
}

/** One queue per key object (a Db), made on first use. */
export function queuePerKey<K extends object, T, R>(make: (key: K) => GroupQueue<T, R>): (key: K) => GroupQueue<T, R> {
  const queues = new WeakMap<K, GroupQueue<T, R>>();
  return (key) => {
    let q = queues.get(key);
    if (!q) queues.set(key, (q = make(key)));
    return q;
  };
}
