/**
 * Turns a burst of events per key into at most one call per interval, always with the newest
 * value: the first event goes out at once, later ones wait for the interval to end. A recorder
 * writing 50 times a second thus costs one signal a second, not fifty.
 */
export class Coalescer<T> {
  private readonly entries = new Map<string, { timer: NodeJS.Timeout; latest?: T }>();

  constructor(
    private readonly intervalMs: number,
    private readonly emit: (key: string, value: T) => void,
  ) {}

  push(key: string, value: T): void {
    const entry = this.entries.get(key);
    if (entry) {
      entry.latest = value;
      return;
    }
    this.emit(key, value);
    this.entries.set(key, { timer: this.schedule(key) });
  }

  private schedule(key: string): NodeJS.Timeout {
    return setTimeout(() => {
      const entry = this.entries.get(key);
      if (entry?.latest === undefined) {
        this.entries.delete(key);
        return;
      }
      const value = entry.latest;
      entry.latest = undefined;
      entry.timer = this.schedule(key);
      this.emit(key, value);
    }, this.intervalMs);
  }

  /** Sends what is still waiting (so a stop loses no event) and stops the timers. */
  flush(): void {
    for (const [key, entry] of this.entries) {
      clearTimeout(entry.timer);
      if (entry.latest !== undefined) this.emit(key, entry.latest);
    }
    this.entries.clear();
  }
}
