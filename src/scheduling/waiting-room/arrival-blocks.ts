/**
 * Arrival numbers handed out in blocks per process. One `UPDATE ... SET count = count + k RETURNING` on the event
 * row reserves k numbers (in the pre-queue before opening, first come first served after); this process then gives
 * them out from memory, so a flood of joins costs one write on the event row per block instead of one per join.
 *
 * Numbers stay unique across processes (each block is a range only its process holds). A block lives at most
 * `maxAgeMs` (which bounds how far arrival order across processes can be out of step) and a pre-queue block is
 * never used at or after opening. Numbers left unused when a block retires are gaps. The frontier moves through
 * positions at the configured rate, so passing a gap would cost admission time; once the frontier has passed a gap
 * it is credited back to the frontier (`creditPassedGaps`, from the room's refresh), so admission counts people,
 * not numbers, without admitting anyone early (a gap is credited only after it has been paid for). Gaps are rows
 * (waiting_room_gap, written when the block retires) that any process credits, so a process killed with kill -9
 * loses at most the unused part of the block it was handing out, never the gaps of its earlier blocks.
 * The block size follows demand: doubled when a block runs out while young (the next join came within its
 * lifetime), shrunk to what was used when one expires, back to one when a used-up block is retired by a join that
 * came after its lifetime. A quiet event therefore reserves one number per join and has no gaps at all: two people
 * are two arrivals at places 1 and 2 (a first block of 8 once made them 9 arrivals, the second at place 9).
 */
import type { Db } from '../../store/db.js';
import { waitingRoomGaps } from './metrics.js';
import { positionOf, type WaitingRoomEvent } from './admission.js';
import { creditPassedGapRows, gapRowsDue, giveBackArrivals, placePreQueueGaps, reserveArrivals, saveGap, type Arrival } from './store.js';

interface Block {
  phase: 'p' | 'o';
  next: number;
  /** Exclusive end of the range. */
  end: number;
  size: number;
  reservedAt: number;
  opensAt: number;
  timer: NodeJS.Timeout;
}

export interface ArrivalBlocksOptions {
  maxSize?: number;
  initialSize?: number;
  maxAgeMs?: number;
  now?: () => number;
}

export class ArrivalBlocks {
  private readonly blocks = new Map<string, Block>();
  private readonly reserving = new Map<string, Promise<void>>();
  private readonly nextSize = new Map<string, number>();
  private readonly retiring = new Set<Promise<void>>();
  /** Gaps noted whose row could not be written yet (database busy or gone): written at the next refresh. */
  private readonly unsaved = new Map<string, Array<{ phase: 'p' | 'o'; first: number; count: number }>>();
  readonly maxSize: number;
  readonly maxAgeMs: number;
  private readonly initialSize: number;
  private readonly now: () => number;

  constructor(private readonly db: Db, opts: ArrivalBlocksOptions = {}) {
    this.maxSize = opts.maxSize ?? 64;
    this.initialSize = Math.min(this.maxSize, opts.initialSize ?? 1);
    this.maxAgeMs = opts.maxAgeMs ?? 1000;
    this.now = opts.now ?? Date.now;
  }

  /** The next arrival number for someone arriving at `at` (their request's timestamp). */
  async next(eventId: string, at: Date): Promise<Arrival> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const b = this.blocks.get(eventId);
      if (b && this.usable(b, at.getTime())) return { phase: b.phase, n: b.next++ };
      // The retired block's tail is given back before the next reservation, so that one takes those numbers.
      if (b) await this.retire(eventId, b);
      let pending = this.reserving.get(eventId);
      if (!pending) {
        pending = this.reserve(eventId, at).finally(() => this.reserving.delete(eventId));
        this.reserving.set(eventId, pending);
      }
      await pending;
    }
    // Only reachable if other callers keep exhausting fresh blocks first: take a number of one's own.
    return reserveArrivals(this.db, eventId, at, 1).then((r) => ({ phase: r.phase, n: r.first }));
  }

  /** Retires every block (crediting its unused numbers) and waits for the credits to be written. */
  async close(): Promise<void> {
    for (const [id, b] of this.blocks) void this.retire(id, b);
    // A tail that could not be given back is noted as a gap once the give-back answered: wait for that one too.
    while (this.reserving.size || this.retiring.size) {
      await Promise.all([...this.reserving.values(), ...this.retiring].map((p) => p.catch(() => undefined)));
    }
  }

  private usable(b: Block, at: number): boolean {
    if (b.next >= b.end) return false;
    if (this.now() - b.reservedAt >= this.maxAgeMs) return false;
    // Pre-queue numbers are only for people who arrive before opening (the pre-queue is shuffled at opening).
    return b.phase === 'o' || at < b.opensAt;
  }

  private async reserve(eventId: string, at: Date): Promise<void> {
    const size = this.nextSize.get(eventId) ?? this.initialSize;
    const r = await reserveArrivals(this.db, eventId, at, size);
    const block: Block = {
      phase: r.phase, next: r.first, end: r.first + size, size, reservedAt: this.now(), opensAt: r.opensAt,
      timer: setTimeout(() => {
        if (this.blocks.get(eventId) === block) void this.retire(eventId, block);
      }, this.maxAgeMs),
    };
    block.timer.unref();
    const old = this.blocks.get(eventId);
    if (old) void this.retire(eventId, old);
    this.blocks.set(eventId, block);
  }

  /** Takes the block out of use; its unused numbers become gaps credited to the frontier. */
  private retire(eventId: string, b: Block): Promise<void> {
    if (this.blocks.get(eventId) === b) this.blocks.delete(eventId);
    clearTimeout(b.timer);
    const used = b.next - (b.end - b.size);
    const unused = b.end - b.next;
    b.next = b.end;
    // Demand estimate for the next block: ran out and the next join came within its lifetime -> twice as many;
    // ran out long ago -> one (demand is low again); expired part-used -> about what was used.
    const young = this.now() - b.reservedAt < this.maxAgeMs;
    this.nextSize.set(eventId, unused === 0 ? (young ? Math.min(this.maxSize, b.size * 2) : 1) : Math.max(1, Math.min(this.maxSize, used)));
    if (unused === 0) return Promise.resolve();
    if (b.phase === 'p') {
      this.noteGap(eventId, b.phase, b.end - unused, unused);
      return Promise.resolve();
    }
    // An open-phase tail is given back when nobody reserved after it (the usual case with one process), so the
    // counts stay people; otherwise it is a gap, credited once the frontier passes it.
    const p = giveBackArrivals(this.db, eventId, b.end - unused, unused).then(
      (back) => void (back || this.noteGap(eventId, 'o', b.end - unused, unused)),
      () => void this.noteGap(eventId, 'o', b.end - unused, unused),
    );
    this.retiring.add(p);
    void p.finally(() => this.retiring.delete(p));
    return p;
  }

  /**
   * Numbers reserved by this process that will never be handed out (also used by joinQueue for a lost race): a
   * gap row, written now (kept in memory and retried while the database cannot take it).
   */
  noteGap(eventId: string, phase: 'p' | 'o', first: number, count = 1): void {
    const p = saveGap(this.db, eventId, phase, first, count).catch(() => {
      let list = this.unsaved.get(eventId);
      if (!list) this.unsaved.set(eventId, (list = []));
      list.push({ phase, first, count });
    });
    this.retiring.add(p);
    void p.finally(() => this.retiring.delete(p));
  }

  /** Gap numbers of this process not yet written to the database (their rows are everyone's once written). */
  unsavedGaps(eventId: string): number {
    return (this.unsaved.get(eventId) ?? []).reduce((sum, g) => sum + g.count, 0);
  }

  /**
   * Credits to the frontier the gaps it has already passed (their positions are at or below `frontier`), whoever
   * noted them, so the time spent passing them is given back. Called with a freshly read event row: one cheap read
   * when nothing is due, a short transaction when something is.
   */
  async creditPassedGaps(e: WaitingRoomEvent, frontier: number, now: number): Promise<number> {
    if (now < e.opensAt) return 0;
    const unsaved = this.unsaved.get(e.id);
    if (unsaved?.length) {
      this.unsaved.delete(e.id);
      for (const g of unsaved) this.noteGap(e.id, g.phase, g.first, g.count);
    }
    const due = await gapRowsDue(this.db, e.id, Math.floor(frontier));
    if (due.unplaced) {
      // Pre-queue numbers land at shuffled positions, known from opening on: placed once, by whoever looks first.
      await placePreQueueGaps(this.db, e.id, (n) => positionOf(e, { p: 'p', n }, now));
    }
    if (!due.passed && !due.unplaced) return 0;
    const passed = await creditPassedGapRows(this.db, e.id, Math.floor(frontier), new Date(now));
    if (passed > 0) waitingRoomGaps.inc({ event: e.id }, passed);
    return passed;
  }
}
