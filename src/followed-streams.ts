/**
 * The streams whose file an activity of this process is following right now. While one is, the
 * watcher does not signal its growth (each signal costs the stream's history four events, and
 * the follow sees the growth itself); the stream re-checks the file when the follow ends, so a
 * change made just then is never missed. On shutdown every follow ends with what it uploaded.
 */
export class FollowedStreams {
  private readonly counts = new Map<string, number>();
  private readonly stopping = new AbortController();

  /** Marks the stream followed until the returned function is called. */
  follow(streamId: string): () => void {
    this.counts.set(streamId, (this.counts.get(streamId) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const count = (this.counts.get(streamId) ?? 1) - 1;
      if (count > 0) this.counts.set(streamId, count);
      else this.counts.delete(streamId);
    };
  }

  isFollowed(streamId: string): boolean {
    return this.counts.has(streamId);
  }

  /** Aborted when the process starts shutting down. */
  get stopSignal(): AbortSignal {
    return this.stopping.signal;
  }

  stop(): void {
    this.stopping.abort();
  }
}
