interface Entry<T> {
  timer: NodeJS.Timeout;
  lastSent: T;
  lastSentAt: number;
  lastEventAt: number;
  /** The newest value not sent yet. */
  pending?: T;
}

/**
 * Turns each key's burst of events into few calls, always with the newest value:
 * - the first event after a quiet spell goes out at once;
 * - while events keep coming, an urgent one (for a file: a new full chunk) goes out at most once
 *   per interval, the others wait;
 * - once the events stop for an interval, the newest goes out, so the last state is never lost.
 * A recorder writing 50 times a second thus costs a signal per chunk, not fifty a second.
 */
export class Coalescer<T> {
  private readonly entries = new Map<string, Entry<T>>();

  constructor(
    private readonly intervalMs: number,
    private readonly emit: (key: string, value: T) => void,
    private readonly urgent: (sent: T, next: T) => boolean = () => true,
  ) {}

  push(key: string, value: T): void {
    const now = Date.now();
    const entry = this.entries.get(key);
    if (!entry) {
      this.emit(key, value);
      this.entries.set(key, { timer: this.schedule(key), lastSent: value, lastSentAt: now, lastEventAt: now });
      return;
    }
    entry.pending = value;
    entry.lastEventAt = now;
    if (now - entry.lastSentAt >= this.intervalMs && this.urgent(entry.lastSent, value))
      this.send(key, entry, value, now);
  }

  private schedule(key: string): NodeJS.Timeout {
    return setTimeout(() => {
      const entry = this.entries.get(key);
      if (!entry) return;
      if (entry.pending === undefined) {
        this.entries.delete(key);
        return;
      }
      const now = Date.now();
      if (now - entry.lastEventAt >= this.intervalMs || this.urgent(entry.lastSent, entry.pending))
        this.send(key, entry, entry.pending, now);
      entry.timer = this.schedule(key);
    }, this.intervalMs);
  }

  private send(key: string, entry: Entry<T>, value: T, now: number): void {
    entry.lastSent = value;
    entry.lastSentAt = now;
    entry.pending = undefined;
    this.emit(key, value);
  }

  /** Sends what is still waiting (so a stop loses no event) and stops the timers. */
  flush(): void {
    for (const [key, entry] of this.entries) {
      clearTimeout(entry.timer);
      if (entry.pending !== undefined) this.emit(key, entry.pending);
    }
    this.entries.clear();
  }
}
