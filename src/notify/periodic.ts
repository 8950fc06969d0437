/**
 * A background round every `intervalMs`, as the outbox worker and the admission-mail sweep run theirs: rounds never
 * overlap (a slow round makes the next tick skip), the timer never keeps the process alive, and stop() waits for
 * the round in flight so a closing hub does not leave a statement running against a closed pool.
 */
export class PeriodicRound {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(private readonly round: () => Promise<unknown>, private readonly onError: (e: unknown) => void = () => undefined) {}

  /** Whether the rounds are scheduled (false once stopped): a long round can check it between steps. */
  get active(): boolean {
    return this.timer !== undefined;
  }

  start(intervalMs: number): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.round()
        .catch((e: unknown) => this.onError(e))
        .finally(() => (this.running = undefined));
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
