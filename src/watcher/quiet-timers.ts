/**
 * One timer per key, re-armed by every event: calls back with the key's last value once that
 * value's deadline passes with no newer event. The watcher uses it to tell a stream the moment
 * its file has been quiet for the idle timeout, instead of leaving that to the workflow's durable
 * timer, which a Temporal server fires up to half a second late.
 */
export class QuietTimers<T> {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly onQuiet: (key: string, value: T) => void) {}

  /** Re-arms `key`'s timer for `dueAtMs` (epoch ms); a deadline already past disarms it. */
  touch(key: string, value: T, dueAtMs: number): void {
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    const delay = dueAtMs - Date.now();
    if (delay <= 0) return;
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        this.onQuiet(key, value);
      }, delay),
    );
  }

  close(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
